//! ENOSPC and EIO on the spool and the sink (issue 12): each fault is injected with a
//! failpoint (the `fail` crate; test builds compile failpoints in) that fails the operation
//! the way a full or failing disk does, part-way where a write is involved. Each test asserts:
//! no acknowledgement without durability, the refusal is a retryable `DiskFault` (503 with
//! Retry-After at both front doors), nothing acknowledged is lost, nothing lands twice after
//! the client retries, and the stream serves again without a restart once the fault clears.
//!
//! The failpoint registry is process-wide: `FailScenario::setup` serializes these tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

fn start(dir: &Path, instance: &str) -> Landing {
    Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: instance.into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap()
}

/// `(seq, id)` of every landed record, in landed order.
fn landed(dir: &Path) -> Vec<(u64, u64)> {
    testkit::landed_lines(&dir.join("landing"))
        .iter()
        .map(|l| {
            (
                l["meta"]["seq"].as_u64().unwrap(),
                l["record"]["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn flush(landing: &Landing) {
    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .expect("flush finishes once the fault cleared");
}

/// Appends `id` with `failpoint` set to `action`: must be refused as a disk fault. Then the
/// client's retry (fault cleared) must be acknowledged.
async fn refused_then_retried(landing: &Landing, failpoint: &str, action: &str, id: u64) {
    fail::cfg(failpoint, action).unwrap();
    let refused = landing.append("customers", id_batch(id)).await;
    fail::remove(failpoint);
    match refused {
        Err(e @ AppendError::DiskFault(_)) => assert!(e.is_retryable()),
        other => panic!("{failpoint}={action}: want a DiskFault refusal, got {other:?}"),
    }
    landing
        .append("customers", id_batch(id))
        .await
        .expect("serves again once the fault cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enospc_and_eio_on_append_and_fsync_refuse_then_serve_again() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), "t");
    landing.append("customers", id_batch(1)).await.unwrap();
    refused_then_retried(&landing, "spool-segment-append", "return", 2).await;
    refused_then_retried(&landing, "spool-segment-append", "return(eio)", 3).await;
    refused_then_retried(&landing, "spool-segment-sync", "return", 4).await;
    refused_then_retried(&landing, "spool-segment-sync", "return(eio)", 5).await;
    landing.append("customers", id_batch(6)).await.unwrap();
    flush(&landing).await;
    assert_eq!(
        landed(dir.path()),
        [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)],
        "every acknowledged record lands once, no refused frame lands, no sequence gap"
    );
    landing.shutdown().await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enospc_on_sink_put_keeps_the_batch_until_the_sink_takes_it() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), "t");
    fail::cfg("sink-put", "return").unwrap();
    landing.append("customers", id_batch(1)).await.unwrap();
    // The lander retries while the sink is full; nothing lands, the spool keeps the batch.
    let blocked = tokio::time::timeout(Duration::from_millis(1500), landing.flush()).await;
    assert!(blocked.is_err(), "nothing can land while every put fails");
    assert!(landed(dir.path()).is_empty());
    assert!(landing.spool_bytes() > 0, "the batch waits in the spool");

    // Pass-through: a full sink is a retryable refusal (503 / SlowDown), not a 500.
    let put = landing
        .put_whole(
            "customers",
            "whole.json",
            bytes::Bytes::from_static(b"{}\n"),
        )
        .await;
    assert!(
        matches!(&put, Err(e @ AppendError::Sink { retryable: true, .. }) if e.is_retryable()),
        "{put:?}"
    );
    fail::cfg("sink-put", "return(eio)").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    fail::remove("sink-put");
    flush(&landing).await;
    assert_eq!(landed(dir.path()), [(1, 1)], "lands once the sink takes it");
    landing
        .put_whole(
            "customers",
            "whole.json",
            bytes::Bytes::from_static(b"{}\n"),
        )
        .await
        .expect("the client's retry lands");
    assert!(dir.path().join("landing/customers/whole.json").exists());
    landing.shutdown().await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_re_landed_after_a_crash_keeps_the_instance_that_cut_it() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), "a");
    landing.append("customers", id_batch(1)).await.unwrap();
    landing.append("customers", id_batch(2)).await.unwrap();
    // The lander stops right after the put, before the segment is deleted: a crash mid-land.
    fail::cfg("lander-landed", "panic").unwrap();
    landing.shutdown().await;
    drop(landing);
    fail::remove("lander-landed");
    assert_eq!(landed(dir.path()), [(1, 1), (2, 2)]);
    let spool = dir.path().join("spool/customers");
    let left = std::fs::read_dir(&spool)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert_eq!(left, 1, "the landed batch's segment is still in the spool");

    // Restart with another instance id (a recreated container's new host name).
    let landing = start(dir.path(), "b");
    flush(&landing).await;
    landing.shutdown().await;
    let files = testkit::landed_files(&dir.path().join("landing"));
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one key, not one per instance: {names:?}");
    assert!(
        names[0].starts_with("a-"),
        "kept the cutting instance: {names:?}"
    );
    assert_eq!(landed(dir.path()), [(1, 1), (2, 2)], "landed once");
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_frame_mid_segment_is_quarantined_and_the_intact_frames_land() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), "t");
    // The lander stops before its first put: the acknowledged batch stays in the spool.
    fail::cfg("sink-put", "panic").unwrap();
    for id in 1..=5 {
        landing.append("customers", id_batch(id)).await.unwrap();
    }
    landing.shutdown().await;
    drop(landing);
    fail::remove("sink-put");
    let spool = dir.path().join("spool/customers");
    let seg = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("segment left in the spool");
    // Flip a byte inside the third frame's record (five equal-sized frames after the header).
    let mut bytes = std::fs::read(&seg).unwrap();
    let frame = (bytes.len() - 26 - 1) / 5;
    let third_record = bytes.len() - 2 * frame - 5;
    bytes[third_record] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();

    let landing = start(dir.path(), "t");
    flush(&landing).await;
    landing.shutdown().await;
    assert_eq!(
        landed(dir.path()),
        [(1, 1), (2, 2), (4, 4), (5, 5)],
        "the frames after the corrupt one land; only the corrupt one is missing"
    );
    let quarantined: Vec<_> = std::fs::read_dir(spool.join("quarantine"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(
        quarantined,
        [bytes],
        "the segment as found is kept for inspection"
    );
    scenario.teardown();
}

#[test]
fn enospc_and_eio_on_a_notify_queue_append_leave_no_torn_line() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snowpipe.queue");
    let key = |n: u64| format!("raw/customers/dt=2026-11-29/hh=20/t-{n:020}.ndjson.zst");
    let q = landing::notify::NotifyQueue::open(&path).unwrap();
    q.push(&key(1)).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    for action in ["return", "return(eio)"] {
        fail::cfg("notify-queue-append", action).unwrap();
        q.push(&key(2)).expect_err("the append fails half-way");
        fail::remove("notify-queue-append");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            len,
            "{action}: torn line cut"
        );
        assert_eq!(
            q.peek(10),
            [key(1)],
            "{action}: a failed push is not pending"
        );
    }
    // The lander retries the key once the disk clears; both survive a restart.
    q.push(&key(2)).unwrap();
    drop(q);
    let q = landing::notify::NotifyQueue::open(&path).unwrap();
    assert_eq!(q.peek(10), [key(1), key(2)]);
    scenario.teardown();
}
