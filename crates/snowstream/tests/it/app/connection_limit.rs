//! `--max-connections`: with the cap reached, a new connection is closed at once on either
//! listener (HTTP receiver, S3 API), the open ones keep being served, and a slot freed by a
//! closed connection is usable again (issue 12: limits on both listeners).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::inprocess::settings;
use snowstream::App;

/// A kept-alive connection that has been served once (so it holds its slot).
fn served(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    s
}

/// Whether the server closes a fresh connection (without a request) within `within`.
fn closed_at_once(addr: SocketAddr, within: Duration) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_)) && start.elapsed() < within
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_closed_and_the_rest_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--max-connections",
        "2",
        "--s3-listen",
        "127.0.0.1:0",
        "--s3-credentials",
        "AK:SECRET",
    ];
    let app = App::start(settings(dir.path(), &flags)).await.unwrap();
    let (http, s3) = (app.addr(), app.s3_addr().unwrap());

    tokio::task::spawn_blocking(move || {
        let health = b"GET /healthcheck HTTP/1.1\r\nHost: t\r\n\r\n";
        // Any S3 request is answered (403 without a signature) and keeps the connection.
        let list = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        for (addr, request) in [(http, &health[..]), (s3, &list[..])] {
            let first = served(addr, request);
            let second = served(addr, request);
            let wait = Duration::from_secs(3);
            assert!(
                closed_at_once(addr, wait),
                "{addr}: a third connection was kept"
            );
            // The two open ones are still served.
            let mut first = first;
            first.write_all(request).unwrap();
            let mut buf = [0u8; 16];
            assert!(
                first.read(&mut buf).unwrap() > 0,
                "{addr}: an open connection went unserved"
            );
            // A freed slot is usable again (the server notices the close on its next read).
            drop(second);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                s.write_all(request).unwrap();
                let mut buf = [0u8; 16];
                if matches!(s.read(&mut buf), Ok(n) if n > 0) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{addr}: the freed slot never came back"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    })
    .await
    .unwrap();
    app.stop().await.unwrap();
}
