//! Stranded streams (issue 12): the spool holds unlanded batches of a stream that was removed
//! from the configuration. Starting refuses loudly, naming the stream and the fix, instead of
//! leaving acknowledged records in the spool forever without a word; once the stream is
//! configured again they land.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, LandingError, StreamConfig};
use testkit::faults::id_batch;

fn config(dir: &Path, streams: &[&str]) -> LandingConfig {
    LandingConfig {
        spool_dir: dir.join("spool"),
        instance: "t".into(),
        spool_max_bytes: 64 << 20,
        streams: streams.iter().map(|s| StreamConfig::new(*s)).collect(),
    }
}

fn sink(dir: &Path) -> Arc<LocalSink> {
    Arc::new(LocalSink::new(dir.join("landing")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_with_batches_of_an_unconfigured_stream_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    // "orders" takes a record; its segment is left in the spool (a crash before landing:
    // the segment is copied aside while the stream runs, and put back after).
    let landing = Landing::start(
        config(dir.path(), &["customers", "orders"]),
        sink(dir.path()),
    )
    .unwrap();
    landing.append("orders", id_batch(7)).await.unwrap();
    let orders = dir.path().join("spool/orders");
    let seg = std::fs::read_dir(&orders)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let kept = std::fs::read(&seg).unwrap();
    landing.shutdown().await;
    drop(landing);
    std::fs::write(&seg, kept).unwrap();

    // "orders" removed from the configuration: refused, naming the stream and the fix.
    let refused = Landing::start(config(dir.path(), &["customers"]), sink(dir.path()));
    let Err(LandingError::Config(why)) = refused else {
        panic!("started with a stranded stream");
    };
    assert!(why.contains("\"orders\""), "{why}");
    assert!(why.contains("configure each again"), "{why}");

    // A stream folder without segments (everything landed) does not block a start.
    let empty = dir.path().join("spool/gone");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("next_seq"), "42").unwrap();

    // Configured again: the stranded batch lands.
    let landing = Landing::start(
        config(dir.path(), &["customers", "orders"]),
        sink(dir.path()),
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .unwrap();
    landing.shutdown().await;
    let ids: Vec<_> = testkit::landed_lines(&dir.path().join("landing"))
        .iter()
        .map(|l| l["record"]["id"].as_u64().unwrap())
        .collect();
    // Landed at the first shutdown, then again from the restored segment, under the same key.
    assert_eq!(ids, [7], "the stranded record lands, once");
}
