//! The S3 front door's memory under hostile bodies, with the default limits (issue 23),
//! measured from `/proc/self/status` (`VmHWM`, reset through `/proc/self/clear_refs`):
//! browser-form POSTs of 300 MB, anonymous and signed, are refused before their body is read
//! (peak growth ≤ 64 MiB; s3s read the whole file part first: +346 MiB), and a 250 MB gzip
//! bomb of blank lines in a PutObject is inflated a chunk at a time (growth ≤ 128 MiB; it
//! took +176 MiB inflated whole).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::s3::*;

const MIB: u64 = 1 << 20;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    kb << 10
}

/// Runs `attack`, returning its result and how far the peak RSS rose above the resident set
/// before it.
async fn measured<T>(attack: impl std::future::Future<Output = T>) -> (T, u64) {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kb("VmRSS:");
    let out = attack.await;
    (out, status_kb("VmHWM:").saturating_sub(before))
}

/// Sends a `multipart/form-data` POST announcing 300 MB and writes its body until the server
/// stops reading; the status line of the answer.
async fn form_post(t: &S3Test, authorization: Option<String>) -> String {
    let mut s = tokio::net::TcpStream::connect(t.addr()).await.unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /raw HTTP/1.1\r\nHost: {}\r\n{auth}\
         Content-Type: multipart/form-data; boundary=B0undary\r\nContent-Length: 300000000\r\n\r\n\
         --B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.ndjson\"\r\n\r\n",
        t.addr()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..300 {
        if s.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("answered")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_s3_bodies_are_refused_or_streamed_with_bounded_memory() {
    let _alone = crate::alone();
    let t = start(|_| {}).await;
    let c = t.client();
    // Warm up (first-request allocations) before measuring.
    put(&c, "raw", "in/warm.ndjson", b"{\"id\":0}\n".to_vec())
        .send()
        .await
        .expect("warm-up put");

    let (anonymous, anonymous_peak) = measured(form_post(&t, None)).await;
    let signed = format!(
        "AWS4-HMAC-SHA256 Credential={AK}/20261207/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature={}",
        "0".repeat(64)
    );
    let (signed, signed_peak) = measured(form_post(&t, Some(signed))).await;
    assert!(anonymous.starts_with("HTTP/1.1 501"), "{anonymous}");
    assert!(signed.starts_with("HTTP/1.1 501"), "{signed}");

    let blank = vec![b' '; 250_000_000];
    let bomb = gzip(&blank);
    drop(blank);
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let (answer, bomb_peak) = measured(put(&c, "raw", "in/blank.ndjson.gz", bomb).send()).await;
    answer.expect("blank lines are a valid, empty NDJSON object");

    println!(
        "peak RSS rise: anonymous form {} MiB, signed form {} MiB, 250 MB gzip bomb {} MiB",
        anonymous_peak / MIB,
        signed_peak / MIB,
        bomb_peak / MIB
    );
    assert!(anonymous_peak <= 64 * MIB, "{} MiB", anonymous_peak / MIB);
    assert!(signed_peak <= 64 * MIB, "{} MiB", signed_peak / MIB);
    assert!(bomb_peak <= 128 * MIB, "{} MiB", bomb_peak / MIB);
    let landed = t.landed().await;
    assert_eq!(landed.len(), 1, "only the warm-up record landed");
}
