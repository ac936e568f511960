//! A sequence number reused after a restart (issue 22), on a real `snowstream serve` process
//! landing in S3: once a batch is acknowledged, the process's file size limit is cut to one
//! byte (RLIMIT_FSIZE, SIGXFSZ ignored: every write past it fails with EFBIG, as a full disk
//! fails it), so recording the next sequence number fails when the batch is sealed. Then the
//! process stops (SIGTERM, or SIGKILL as a crash), starts again without the limit, and takes
//! another batch. Both batches must land, each record once, under two keys.
//!
//! Before the fix the first batch landed and its segment was deleted while `next_seq` still
//! said 1; the second batch got first_seq 1 again and replaced the first in the bucket.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use testkit::faults::{ignore_file_size_signal, limit_process_file_size};
use testkit::s3_child::{OutageS3, start_child, terminate_child};
use testkit::{ServerProcess, free_port, landed_lines};

use crate::support::inprocess::post_ids;

async fn post(server: &ServerProcess, ids: std::ops::Range<u64>) {
    let url = format!("{}/contentListener", server.base);
    let ids: Vec<u64> = ids.collect();
    let resp = post_ids(&reqwest::Client::new(), &url, &ids)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

async fn run(crash: bool) {
    ignore_file_size_signal();
    let dir = tempfile::tempdir().unwrap();
    let s3 = OutageS3::start(&dir.path().join("store"), "landing").await;
    let args = s3.child_args(
        &dir.path().join("data"),
        "restart-1",
        &["--batch-max-age", "1s"],
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let port = free_port();
    let server = start_child(bin, port, &args).await.unwrap();
    post(&server, 1..13).await;
    // Acknowledged (fsync'd); now the disk "fills" before the batch is sealed.
    limit_process_file_size(server.pid(), 1).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        testkit::landed_files(&s3.bucket_dir()).is_empty(),
        "the batch landed although the sequence number after it was not recorded"
    );
    if crash {
        tokio::task::spawn_blocking(move || server.kill())
            .await
            .unwrap();
    } else {
        // Stops with the disk still "full": the batch stays in the spool.
        let code = terminate_child(server, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(code, Some(0), "clean exit after SIGTERM");
    }

    let server = start_child(bin, port, &args).await.unwrap();
    post(&server, 13..25).await;
    let code = terminate_child(server, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "clean exit after SIGTERM");

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in landed_lines(&s3.bucket_dir()) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    let lost: Vec<u64> = (1..25).filter(|id| !seen.contains_key(id)).collect();
    let twice: Vec<&u64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "lost {lost:?}, twice {twice:?}"
    );
    assert_eq!(seen.len(), 24);
    assert_eq!(testkit::landed_files(&s3.bucket_dir()).len(), 2, "two keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_next_seq_then_graceful_restart() {
    let _alone = crate::alone();
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_next_seq_then_crash() {
    let _alone = crate::alone();
    run(true).await;
}
