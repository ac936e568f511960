//! A failed fsync (issue 12, item 2): the requests of that group commit are refused, their
//! frames are cut off the segment, and the client's retry lands each record exactly once.
//!
//! The fault is injected with the `spool-segment-sync` failpoint (the `fail` crate; test
//! builds compile failpoints in). The failpoint registry is process-wide: `FailScenario::setup`
//! serializes the tests of this binary (see `main.rs`).

use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_records_never_land_and_the_retry_lands_once() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing_dir = dir.path().join("landing");
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.path().join("spool"),
            instance: "t".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        Arc::new(LocalSink::new(&landing_dir).unwrap()),
    )
    .unwrap();

    let first = landing
        .append("customers", id_batch(1))
        .await
        .expect("durable");
    fail::cfg("spool-segment-sync", "return").unwrap();
    let refused = landing.append("customers", id_batch(2)).await;
    fail::remove("spool-segment-sync");
    assert!(
        matches!(refused, Err(landing::AppendError::DiskFault(_))),
        "no acknowledgement without an fsync; a failed fsync is a retryable refusal: {refused:?}"
    );
    // The client retries what was refused; the stream serves again without a restart.
    let retried = landing
        .append("customers", id_batch(2))
        .await
        .expect("serves again");
    assert_eq!(
        (first.first_seq, retried.first_seq),
        (1, 2),
        "no sequence gap"
    );

    tokio::time::timeout(Duration::from_secs(20), landing.flush())
        .await
        .unwrap();
    let lines = testkit::landed_lines(&landing_dir);
    let landed: Vec<_> = lines
        .iter()
        .map(|l| (l["meta"]["seq"].as_u64().unwrap(), l["record"].clone()))
        .collect();
    assert_eq!(
        landed,
        vec![
            (1, serde_json::json!({"id":1})),
            (2, serde_json::json!({"id":2})),
        ],
        "each record lands once; the refused frame is gone"
    );
    landing.shutdown().await;
    scenario.teardown();
}
