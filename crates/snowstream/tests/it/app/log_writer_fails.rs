//! A log line that cannot be written must not stop landing (issue 22): `serve` with its
//! standard error on `/dev/full` (every write fails with ENOSPC) and `RUST_LOG=info`, so
//! every landed batch logs a line that fails. Before the fix the formatter reported the
//! failure with `eprintln!`, which panicked the lander: requests kept getting 200, nothing
//! landed until a restart, and shutdown still said "spool landed; bye" (exit 0).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::{ServerProcess, free_port, landed_lines};

use crate::support::inprocess::post_ids;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stderr_does_not_stop_landing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let port = free_port();
    let server = tokio::task::spawn_blocking(move || {
        let args = ["--data-dir", data.as_str(), "--batch-max-records", "10"];
        ServerProcess::start_logging_to(bin, port, &args, "info", full.into())
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/contentListener", server.base);
    for r in 0..20u64 {
        let ids: Vec<u64> = (r * 10..r * 10 + 10).collect();
        let resp = post_ids(&http, &url, &ids).send().await.unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    // Landing goes on while the server runs (every batch is full at 10 records).
    let landing = dir.path().join("landing");
    let start = Instant::now();
    while landed_lines(&landing).len() < 200 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "clean exit after SIGTERM");
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in landed_lines(&landing) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 200, "every acknowledged record landed");
    assert!(seen.values().all(|n| *n == 1), "none twice");
}
