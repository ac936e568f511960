//! A request appended in parts (`Landing::begin_parts`) under disk faults: a write failing on
//! a frame in the middle of its run, or the fsync after it, refuses the whole request and
//! leaves nothing of it in the segment (its spool bytes and sequence numbers given back, once),
//! and the stream goes on serving; a failed push gives back its own part's bytes only. The
//! client's retry then lands every record once.
//!
//! Faults are failpoints (`spool-segment-append` fails the Nth frame part-way,
//! `spool-segment-sync`, `spool-parts-write`); the registry is process-wide, so each test
//! holds `FailScenario::setup` (see `main.rs`). The sink is down until the end, so that
//! nothing lands meanwhile and the spool's byte count only moves with what these do.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, PartsAppend, StreamConfig};
use records::Batch;
use testkit::faults::id_batch;

type Switchable = testkit::SwitchableSink<LocalSink>;

fn start(dir: &Path) -> (Landing, Arc<Switchable>) {
    let sink = testkit::SwitchableSink::new(LocalSink::new(dir.join("landing")).unwrap(), false);
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "t".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        sink.clone(),
    )
    .unwrap();
    (landing, sink)
}

/// Records `{"id":i}` for `ids`.
fn ids(ids: std::ops::Range<u64>) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    for i in ids {
        b.push_record(format!(r#"{{"id":{i}}}"#).as_bytes());
    }
    b
}

/// Ids 100..130 in three parts; the last batch (130..135) goes to `commit`.
async fn pushed(landing: &Landing) -> PartsAppend {
    let mut parts = landing.begin_parts("customers").unwrap();
    for p in [100..110, 110..125, 125..130] {
        parts.push(ids(p)).await.unwrap();
    }
    parts
}

/// The open segment of the stream and its length.
fn segment(dir: &Path) -> (PathBuf, u64) {
    let folder = dir.join("spool").join("customers");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    let last = segs.pop().expect("a segment");
    let len = std::fs::metadata(&last).unwrap().len();
    (last, len)
}

/// Lands everything and returns `(seq, id)` of every landed record, in order.
async fn land(landing: &Landing, sink: &Switchable, dir: &Path) -> Vec<(u64, u64)> {
    sink.set_up(true);
    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .expect("lands once the sink is up");
    let mut v: Vec<(u64, u64)> = testkit::landed_lines(&dir.join("landing"))
        .iter()
        .map(|l| {
            (
                l["meta"]["seq"].as_u64().unwrap(),
                l["record"]["id"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits (up to 10 s) for `done`.
async fn settles(done: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `(seq, id)` of ids `from..to` landed from sequence number `seq`.
fn run_of(seq: u64, from: u64, to: u64) -> impl Iterator<Item = (u64, u64)> {
    (from..to).map(move |id| (seq + id - from, id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_mid_run_leaves_nothing_of_it_and_the_stream_serves_on() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let (landing, sink) = start(dir.path());
    landing.append("customers", id_batch(1)).await.unwrap();
    let (seg, len) = segment(dir.path());
    let used = landing.spool_bytes();

    let parts = pushed(&landing).await;
    // The run's first two frames are written, the third fails part-way (a full disk).
    fail::cfg("spool-segment-append", "2*off->return").unwrap();
    let refused = parts.commit(ids(130..135)).await;
    fail::remove("spool-segment-append");
    match refused {
        Err(e @ AppendError::DiskFault(_)) => assert!(e.is_retryable()),
        other => panic!("want a DiskFault refusal, got {other:?}"),
    }
    assert_eq!(
        segment(dir.path()),
        (seg, len),
        "nothing of the run is left"
    );
    assert_eq!(landing.spool_bytes(), used, "its bytes given back, once");

    let next = landing.append("customers", id_batch(2)).await.unwrap();
    assert_eq!(
        next.first_seq, 2,
        "the run's sequence numbers are used again"
    );
    // The client retries the request.
    let retried = pushed(&landing).await.commit(ids(130..135)).await.unwrap();
    assert_eq!((retried.first_seq, retried.records), (3, 35));

    let want: Vec<_> = [(1, 1), (2, 2)]
        .into_iter()
        .chain(run_of(3, 100, 135))
        .collect();
    assert_eq!(land(&landing, &sink, dir.path()).await, want);
    landing.shutdown().await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_refuses_the_whole_run_and_cuts_it_off() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let (landing, sink) = start(dir.path());
    landing.append("customers", id_batch(1)).await.unwrap();
    let (seg, len) = segment(dir.path());
    let used = landing.spool_bytes();

    let parts = pushed(&landing).await;
    fail::cfg("spool-segment-sync", "return(eio)").unwrap();
    let refused = parts.commit(ids(130..135)).await;
    fail::remove("spool-segment-sync");
    assert!(
        matches!(refused, Err(AppendError::DiskFault(_))),
        "no acknowledgement without an fsync: {refused:?}"
    );
    // The refusal is answered, then the run cut off the segment, which is then sealed (and
    // held: the sink is down).
    settles(
        || std::fs::metadata(&seg).unwrap().len() == len,
        "the run is cut off",
    )
    .await;
    settles(|| landing.spool_bytes() == used, "its bytes given back").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(landing.spool_bytes(), used, "given back once");

    let retried = pushed(&landing).await.commit(ids(130..135)).await.unwrap();
    assert_eq!(
        (retried.first_seq, retried.records),
        (2, 35),
        "no sequence gap"
    );
    let want: Vec<_> = [(1, 1)].into_iter().chain(run_of(2, 100, 135)).collect();
    assert_eq!(land(&landing, &sink, dir.path()).await, want);
    landing.shutdown().await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_push_gives_back_its_part_and_the_append_goes_on() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let (landing, sink) = start(dir.path());
    landing.append("customers", id_batch(1)).await.unwrap();
    let used = landing.spool_bytes();

    let mut parts = landing.begin_parts("customers").unwrap();
    let first = ids(100..110);
    let first_len = first.packed_len() as u64 + 8;
    parts.push(first).await.unwrap();
    fail::cfg("spool-parts-write", "return").unwrap();
    let refused = parts.push(ids(110..125)).await;
    fail::remove("spool-parts-write");
    assert!(
        matches!(refused, Err(AppendError::DiskFault(_))),
        "{refused:?}"
    );
    assert_eq!(
        landing.spool_bytes(),
        used + first_len,
        "only the part kept"
    );
    assert_eq!(parts.records(), 10);
    // The part is pushed again; it goes where the failed write was.
    parts.push(ids(110..125)).await.unwrap();
    let r = parts.commit(ids(125..135)).await.unwrap();
    assert_eq!((r.first_seq, r.records), (2, 35));

    let want: Vec<_> = [(1, 1)].into_iter().chain(run_of(2, 100, 135)).collect();
    assert_eq!(land(&landing, &sink, dir.path()).await, want);
    landing.shutdown().await;
    scenario.teardown();
}
