//! The spool when creating a segment fails half-way (issue 12, item 1): the request gets an
//! error (never an acknowledgement), and once the fault clears the stream takes records again
//! without a restart; only what was acknowledged lands.
//!
//! The fault is injected with RLIMIT_FSIZE: with the cap below a segment header's size, the
//! header write is cut short and fails with EFBIG (SIGXFSZ ignored), as a full disk cuts it
//! short with ENOSPC. The limit is process-wide, so the test runs alone (see `main.rs`).

use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

use crate::support::limit_file_size;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_made_segment_is_removed_and_the_stream_serves_again() {
    // Alone in this binary (see main.rs): the file size cap below is process-wide.
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing_dir = dir.path().join("landing");
    let sink = Arc::new(LocalSink::new(&landing_dir).unwrap());
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.path().join("spool"),
            instance: "t".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        sink,
    )
    .unwrap();

    let full = limit_file_size(8);
    let refused = landing.append("customers", id_batch(1)).await;
    drop(full);
    assert!(
        matches!(refused, Err(landing::AppendError::DiskFault(_))),
        "no acknowledgement without a durable segment; a full disk is a retryable refusal: {refused:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("spool").join("customers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-made segment left: {leftovers:?}"
    );

    // The fault cleared: the same stream takes records again, no restart.
    let receipt = landing
        .append("customers", id_batch(2))
        .await
        .expect("serves again");
    assert_eq!(receipt.records, 1);
    tokio::time::timeout(Duration::from_secs(20), landing.flush())
        .await
        .unwrap();
    let lines = testkit::landed_lines(&landing_dir);
    let records: Vec<_> = lines.iter().map(|l| l["record"].clone()).collect();
    assert_eq!(
        records,
        vec![serde_json::json!({"id":2})],
        "only the acknowledged record lands"
    );
    landing.shutdown().await;
    scenario.teardown();
}
