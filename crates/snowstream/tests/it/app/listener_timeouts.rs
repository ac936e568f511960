//! Stalled clients are closed by the listeners' timeouts (HTTP receiver and S3 API), while a
//! normal client is served meanwhile and nothing of a stalled request lands (issue 12).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::inprocess::{read_until_closed, settings};
use snowstream::App;

fn post(addr: SocketAddr, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /contentListener HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_until_closed(s, Duration::from_secs(10)).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_and_bodies_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--batch-max-age",
        "100ms",
        "--header-read-timeout",
        "1s",
        "--body-read-timeout",
        "1s",
        "--s3-listen",
        "127.0.0.1:0",
        "--s3-credentials",
        "AK:SECRET",
    ];
    let running = App::start(settings(dir.path(), &flags)).await.unwrap();
    let addr = running.addr();
    let s3_addr = running.s3_addr().expect("S3 API on");

    let (half_header, body_stall, s3_half_header) = tokio::task::spawn_blocking(move || {
        // Half a header, then nothing.
        let mut a = TcpStream::connect(addr).unwrap();
        a.write_all(b"POST /contentListener HTTP/1.1\r\nHost: t\r\n")
            .unwrap();
        // Whole headers, 1 byte of a 1 MB body, then nothing.
        let mut b = TcpStream::connect(addr).unwrap();
        b.write_all(
            b"POST /contentListener HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n\
              Content-Length: 1000000\r\n\r\n{",
        )
        .unwrap();
        // Half a header on the S3 API's listener too.
        let mut c = TcpStream::connect(s3_addr).unwrap();
        c.write_all(b"PUT /customers/a.json HTTP/1.1\r\nHost: t\r\n")
            .unwrap();
        // A kept-alive connection that goes idle after a request.
        let mut d = TcpStream::connect(addr).unwrap();
        d.write_all(b"GET /healthcheck HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        // A normal client is served while all of them stall.
        let ok = post(addr, "{\"id\":1}\n");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        let limit = Duration::from_secs(10);
        let half = read_until_closed(a, limit);
        let stall = read_until_closed(b, limit);
        let s3_half = read_until_closed(c, limit);
        let (answered, idle) = read_until_closed(d, limit);
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
        assert!(
            idle < Duration::from_secs(5),
            "an idle keep-alive held for {idle:?}"
        );
        (half, stall, s3_half)
    })
    .await
    .unwrap();

    assert!(
        half_header.1 < Duration::from_secs(5),
        "half a header was held for {:?}",
        half_header.1
    );
    assert!(
        s3_half_header.1 < Duration::from_secs(5),
        "half a header was held by the S3 API for {:?}",
        s3_half_header.1
    );
    assert!(
        body_stall.1 < Duration::from_secs(5),
        "a stalled body was held for {:?}",
        body_stall.1
    );
    assert!(
        body_stall.0.starts_with("HTTP/1.1 408"),
        "a stalled body gets 408 (never an acknowledgement): {}",
        body_stall.0
    );

    running.landing().flush().await;
    let landed = testkit::landed_lines(&dir.path().join("landing"));
    let records: Vec<_> = landed.iter().map(|l| l["record"].clone()).collect();
    assert_eq!(
        records,
        vec![serde_json::json!({"id":1})],
        "only the served request lands"
    );
    running.stop().await.unwrap();
}
