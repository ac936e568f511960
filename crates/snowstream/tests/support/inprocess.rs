//! Helpers for the tests that start the app in this process (`snowstream::App`) and talk to
//! it over raw sockets on 127.0.0.1.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use snowstream::{ServeArgs, Settings};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

/// `snowstream serve` settings from these flags, on 127.0.0.1 (a free port), with the data
/// directory `dir` and instance id `t`.
pub fn settings(dir: &Path, flags: &[&str]) -> Settings {
    let base = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
        "--instance-id",
        "t",
    ];
    Cli::parse_from(base.iter().chain(flags))
        .args
        .resolve()
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes, which panics); returns
/// what it sent and how long the close took.
pub fn read_until_closed(mut s: TcpStream, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("connection still open after {limit:?}: {e}"),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

/// A POST to `url` of NDJSON records `{"id":…,"name":"customer …"}`, one per id: the load of
/// the tests that count what landed by id.
pub fn post_ids(http: &reqwest::Client, url: &str, ids: &[u64]) -> reqwest::RequestBuilder {
    let body: String = ids
        .iter()
        .map(|id| format!("{{\"id\":{id},\"name\":\"customer {id}\"}}\n"))
        .collect();
    http.post(url)
        .header("content-type", "application/x-ndjson")
        .body(body)
}

/// How many times each record id landed below `root` (a landing folder or a bucket), with
/// every acknowledged id (`acked`) checked: none landed twice, none lost.
pub fn assert_acked_landed_once(
    root: &Path,
    acked: &[u64],
) -> std::collections::HashMap<u64, usize> {
    let mut seen = std::collections::HashMap::new();
    for line in testkit::landed_lines(root) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "a record landed twice");
    let lost = acked.iter().filter(|id| !seen.contains_key(id)).count();
    assert_eq!(lost, 0, "acknowledged records lost");
    seen
}
