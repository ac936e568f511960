//! Kill -9 a `snowstream serve` while a large request is received in parts (its first parts
//! already in the spool folder's temporary file), with another large request acknowledged just
//! before; restart it: the acknowledged request lands exactly once, nothing of the unfinished
//! one lands, and nothing is left in the spool folder.

use std::path::Path;
use std::time::Duration;

use testkit::{ServerProcess, free_port};
use tokio::io::AsyncWriteExt;

const MIB: usize = 1 << 20;

/// NDJSON records with ids from `first`, about `bytes` long; the ids.
fn body(first: u64, bytes: usize) -> (Vec<u64>, Vec<u8>) {
    let (mut ids, mut out) = (Vec::new(), Vec::with_capacity(bytes + 256));
    let mut id = first;
    while out.len() < bytes {
        out.extend_from_slice(format!("{{\"id\":{id},\"note\":\"{id:0>120}\"}}\n").as_bytes());
        ids.push(id);
        id += 1;
    }
    (ids, out)
}

/// Files in the stream folders of the spool (segments, ledgers, temporary files).
fn spool_files(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for stream in std::fs::read_dir(data.join("spool")).unwrap().flatten() {
        if stream.path().is_dir() {
            for f in std::fs::read_dir(stream.path()).unwrap().flatten() {
                out.push(f.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Whether process `pid` holds a deleted (unnamed) file below `spool` open.
fn parts_file_open(pid: u32, spool: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| {
            let target = target.to_string_lossy().into_owned();
            target.starts_with(&*spool.to_string_lossy()) && target.ends_with("(deleted)")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_a_request_is_received_in_parts_lands_only_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let data = dir.path().to_str().unwrap().to_owned();
    let port = free_port();
    let args = [
        "--data-dir",
        &data,
        "--instance-id",
        "parts-1",
        "--batch-max-age",
        "300ms",
    ];
    let server = ServerProcess::start(bin, port, &args, &[]);

    // Acknowledged: 24 MiB, six parts or so.
    let (acked, whole) = body(0, 24 * MIB);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/contentListener", server.base))
        .header("content-type", "application/x-ndjson")
        .body(whole)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    // Unfinished: 16 of its 24 MiB sent, then the server is killed.
    let (_, unfinished) = body(1_000_000_000, 24 * MIB);
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /contentListener HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-ndjson\r\n\
         content-length: {}\r\n\r\n",
        unfinished.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&unfinished[..16 * MIB]).await.unwrap();
    sock.flush().await.unwrap();
    // Its first parts reach the temporary file: an unnamed file the child holds open in the
    // spool folder (O_TMPFILE: /proc shows it as deleted).
    let spool = dir.path().join("spool");
    let mut open_parts = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        open_parts = parts_file_open(server.pid(), &spool);
        if open_parts {
            break;
        }
    }
    assert!(open_parts, "the request is received in parts");
    tokio::task::spawn_blocking(move || server.kill())
        .await
        .unwrap();
    drop(sock);

    // Started here, as the first was: it waits for the port on this thread.
    let server = ServerProcess::start(bin, port, &args, &[]);
    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "clean exit after SIGTERM");

    let seen =
        crate::support::inprocess::assert_acked_landed_once(&dir.path().join("landing"), &acked);
    assert_eq!(
        seen.len(),
        acked.len(),
        "nothing of the unfinished request landed"
    );
    let left: Vec<String> = spool_files(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".seg") || f.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "left in the spool: {left:?}");
}
