//! A sequence number is never used twice, even when the `next_seq` file cannot be written
//! (issue 22): the failpoint `spool-next-seq` fails its write with ENOSPC, as a full disk
//! does. A sealed batch then does not land (its segment keeps its sequence numbers), new
//! records are refused with a retryable disk fault (503 + Retry-After at the front doors),
//! and everything lands by itself once the fault clears, or on the next start.
//!
//! Before the fix the batch landed and its segment was deleted while the file still said 1:
//! after a restart the next batch got first_seq 1 again, landed under the same key in the
//! same hour, and replaced the first batch's records.
//!
//! The failpoint registry is process-wide: `FailScenario::setup` serializes these tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, StreamConfig};
use records::Batch;

fn start(dir: &Path) -> Landing {
    Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "t".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap()
}

/// A batch of records with ids `ids`.
fn batch(ids: std::ops::Range<u64>) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    for id in ids {
        b.push_record(format!("{{\"id\":{id}}}").as_bytes());
    }
    b
}

/// Checks that every id of `want` landed exactly once, under unique sequence numbers, and
/// returns the number of landed files.
fn landed_once(dir: &Path, want: std::ops::Range<u64>) -> usize {
    let lines = testkit::landed_lines(&dir.join("landing"));
    let mut ids: HashMap<u64, usize> = HashMap::new();
    let mut seqs: Vec<u64> = Vec::new();
    for l in &lines {
        *ids.entry(l["record"]["id"].as_u64().unwrap()).or_default() += 1;
        seqs.push(l["meta"]["seq"].as_u64().unwrap());
    }
    let lost: Vec<u64> = want.clone().filter(|id| !ids.contains_key(id)).collect();
    let twice: Vec<u64> = ids
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(lost.is_empty(), "lost {lost:?}");
    assert!(twice.is_empty(), "landed twice {twice:?}");
    assert_eq!(
        lines.len() as u64,
        want.end - want.start,
        "nothing else landed"
    );
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), lines.len(), "sequence numbers are unique");
    testkit::landed_files(&dir.join("landing")).len()
}

/// Flush must not finish while the fault holds the batch back.
async fn flush_is_held(landing: &Landing) {
    let held = tokio::time::timeout(Duration::from_millis(600), landing.flush()).await;
    assert!(
        held.is_err(),
        "flush finished although the batch could not land"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_next_seq_at_seal_then_graceful_restart_reuses_no_sequence_number() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path());
    landing.append("customers", batch(1..13)).await.unwrap();
    fail::cfg("spool-next-seq", "return").unwrap();
    flush_is_held(&landing).await;
    assert!(
        testkit::landed_files(&dir.path().join("landing")).is_empty(),
        "the batch landed before the sequence number after it was recorded"
    );
    // New records are refused as a retryable disk fault while it cannot be recorded.
    match landing.append("customers", batch(100..101)).await {
        Err(e @ AppendError::DiskFault(_)) => assert!(e.is_retryable()),
        other => panic!("want a DiskFault refusal, got {other:?}"),
    }
    landing.shutdown().await;
    drop(landing);
    fail::remove("spool-next-seq");

    let landing = start(dir.path());
    landing.append("customers", batch(13..25)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .expect("flush");
    landing.shutdown().await;
    assert_eq!(landed_once(dir.path(), 1..25), 2, "two files, two keys");
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_batch_lands_by_itself_once_the_fault_clears() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path());
    landing.append("customers", batch(1..13)).await.unwrap();
    fail::cfg("spool-next-seq", "return(eio)").unwrap();
    flush_is_held(&landing).await;
    fail::remove("spool-next-seq");
    // No new request: the writer tries again on its own.
    tokio::time::timeout(Duration::from_secs(10), landing.flush())
        .await
        .expect("the held batch lands once the fault cleared");
    assert_eq!(landed_once(dir.path(), 1..13), 1);
    landing.append("customers", batch(13..25)).await.unwrap();
    landing.flush().await;
    landing.shutdown().await;
    drop(landing);
    // And a restart goes on after the last number used.
    let landing = start(dir.path());
    landing.append("customers", batch(25..30)).await.unwrap();
    landing.flush().await;
    landing.shutdown().await;
    assert_eq!(landed_once(dir.path(), 1..30), 3);
    scenario.teardown();
}

/// The rollback after a failed fsync cannot cut the refused frames (the truncate fails, or
/// the sync after it): the acknowledged frames land, the refused ones (whose clients retry)
/// do not, and nothing is set aside as corrupt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollback_lands_the_acknowledged_records_only() {
    let scenario = fail::FailScenario::setup();
    for failpoint in ["spool-segment-truncate", "spool-segment-truncate-sync"] {
        let dir = tempfile::tempdir().unwrap();
        let landing = start(dir.path());
        landing.append("customers", batch(1..6)).await.unwrap();
        fail::cfg("spool-segment-sync", "return").unwrap();
        fail::cfg(failpoint, "return(eio)").unwrap();
        let refused = landing.append("customers", batch(6..11)).await;
        assert!(refused.is_err(), "{failpoint}: the fsync failed, so no ack");
        // The cut keeps failing while the segment is sealed and landed.
        landing.flush().await;
        fail::remove("spool-segment-sync");
        fail::remove(failpoint);
        landing.shutdown().await;
        drop(landing);
        assert_eq!(landed_once(dir.path(), 1..6), 1, "{failpoint}");
        let corrupt = walk(&dir.path().join("spool"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "corrupt"))
            .count();
        assert_eq!(corrupt, 0, "{failpoint}: nothing set aside as corrupt");
        // The client's retry, on a restart, lands once.
        let landing = start(dir.path());
        landing.append("customers", batch(6..11)).await.unwrap();
        landing.flush().await;
        landing.shutdown().await;
        assert_eq!(landed_once(dir.path(), 1..11), 2, "{failpoint}");
    }
    scenario.teardown();
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
