//! Corruption recovery finds in a spool segment never deletes acknowledged records silently
//! (issue 22, item 2). Segments are written through the service and kept in the spool by a
//! lander that stops before (or right after) its put, as a crash does; then their bytes are
//! damaged on disk and a restart recovers them:
//! - a damaged header (flipped magic, or a first_seq that disagrees with the file name) with
//!   intact frames after it: the segment is copied to quarantine as found, counted, logged as
//!   an ERROR, its header rebuilt, and every record lands exactly once;
//! - a damaged header and no intact frame: the file is removed (after the quarantine copy, an
//!   ERROR and the metric, as it was sealed), and nothing lands twice;
//! - a corrupt last frame of a sealed segment (every frame in it was acknowledged): not a torn
//!   tail but corruption, quarantined, counted and logged; the intact frames land.
//!
//! Before the fix the first two removed the segment with no log, metric or copy, and the last
//! cut the frame off with a WARN only. The failpoint registry is process-wide:
//! `FailScenario::setup` serializes these tests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use landing::metric_names::{SPOOL_CORRUPT_FRAMES_TOTAL, SPOOL_CORRUPT_HEADERS_TOTAL};
use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

fn start(dir: &Path, instance: &str) -> Landing {
    let mut stream = StreamConfig::new("customers");
    stream.max_records = 3;
    Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: instance.into(),
            spool_max_bytes: 64 << 20,
            streams: vec![stream],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap()
}

/// `(seq, id)` of every landed record, sorted.
fn landed(dir: &Path) -> Vec<(u64, u64)> {
    let mut v: Vec<_> = testkit::landed_lines(&dir.join("landing"))
        .iter()
        .map(|l| {
            let seq = l["meta"]["seq"].as_u64().unwrap();
            (seq, l["record"]["id"].as_u64().unwrap())
        })
        .collect();
    v.sort_unstable();
    v
}

fn landed_names(dir: &Path) -> Vec<String> {
    testkit::landed_files(&dir.join("landing"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Appends ids `ids` (one request each) with the lander stopped by `failpoint` (`sink-put`:
/// before its put; `lander-landed`: after it), then stops: the sealed segments stay.
async fn spool_and_stop(dir: &Path, failpoint: &str, ids: std::ops::RangeInclusive<u64>) {
    let landing = start(dir, "a");
    fail::cfg(failpoint, "panic").unwrap();
    for id in ids {
        landing.append("customers", id_batch(id)).await.unwrap();
    }
    landing.shutdown().await;
    drop(landing);
    fail::remove(failpoint);
}

/// The segments in the spool, by first sequence number.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("spool/customers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Writes `damage` of `seg`'s bytes back and returns them.
fn damage(seg: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = std::fs::read(seg).unwrap();
    damage(&mut bytes);
    std::fs::write(seg, &bytes).unwrap();
    bytes
}

fn quarantined(dir: &Path) -> Vec<Vec<u8>> {
    match std::fs::read_dir(dir.join("spool/customers/quarantine")) {
        Ok(rd) => rd
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// What recovery reported while a service started.
struct Recovery {
    landing: Landing,
    counters: HashMap<String, u64>,
    /// Log lines (level, message and fields).
    logs: Vec<(tracing::Level, String)>,
}

impl Recovery {
    fn errors_naming(&self, file: &Path) -> usize {
        let name = file.file_name().unwrap().to_string_lossy();
        (self.logs.iter())
            .filter(|(level, line)| *level == tracing::Level::ERROR && line.contains(&*name))
            .count()
    }
}

/// Starts the service (which recovers the spool on this thread) capturing metrics and logs.
fn restart(dir: &Path, instance: &str) -> Recovery {
    let counters = Arc::new(Counters::default());
    let logs = Arc::new(Mutex::new(Vec::new()));
    let landing = metrics::with_local_recorder(&Recorder(counters.clone()), || {
        tracing::subscriber::with_default(Logs(logs.clone()), || start(dir, instance))
    });
    let counters = counters.0.lock().unwrap().clone();
    let logs = std::mem::take(&mut *logs.lock().unwrap());
    Recovery {
        landing,
        counters,
        logs,
    }
}

async fn flush_and_stop(landing: Landing) {
    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .expect("flush");
    landing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_header_magic_is_rebuilt_and_every_record_lands_once() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    spool_and_stop(dir.path(), "sink-put", 1..=3).await;
    let [seg] = &segments(dir.path())[..] else {
        panic!("one sealed segment left")
    };
    let found = damage(seg, |b| b[0] ^= 0x01);

    // Another instance id: the batch still lands under the key of the one that cut it.
    let r = restart(dir.path(), "b");
    assert_eq!(r.counters.get(SPOOL_CORRUPT_HEADERS_TOTAL), Some(&1));
    assert_eq!(r.errors_naming(seg), 1, "{:?}", r.logs);
    r.landing.append("customers", id_batch(4)).await.unwrap();
    flush_and_stop(r.landing).await;
    assert_eq!(landed(dir.path()), [(1, 1), (2, 2), (3, 3), (4, 4)]);
    let names = landed_names(dir.path());
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("a-00000000000000000001.")),
        "kept the key of the instance that cut it: {names:?}"
    );
    assert_eq!(quarantined(dir.path()), [found], "the segment as found");
    assert!(segments(dir.path()).is_empty(), "landed and deleted");
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_header_re_lands_a_batch_landed_before_the_crash_under_its_own_key() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    // Landed, then the crash before the segment was deleted.
    spool_and_stop(dir.path(), "lander-landed", 1..=2).await;
    assert_eq!(landed(dir.path()), [(1, 1), (2, 2)]);
    let [seg] = &segments(dir.path())[..] else {
        panic!("the landed segment is still in the spool")
    };
    let found = damage(seg, |b| b[3] = b'X');
    let r = restart(dir.path(), "b");
    flush_and_stop(r.landing).await;
    assert_eq!(landed_names(dir.path()).len(), 1, "one key, not two");
    assert_eq!(landed(dir.path()), [(1, 1), (2, 2)], "landed once");
    assert_eq!(quarantined(dir.path()), [found]);
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_whose_first_seq_disagrees_with_the_file_name_is_rebuilt() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    spool_and_stop(dir.path(), "sink-put", 1..=5).await;
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 2, "{segs:?}");
    // The magic intact, first_seq and opened_at_ms hit: the header still parses.
    let found = damage(&segs[1], |b| b[8..24].fill(0xee));
    let r = restart(dir.path(), "b");
    assert_eq!(r.counters.get(SPOOL_CORRUPT_HEADERS_TOTAL), Some(&1));
    assert_eq!(r.errors_naming(&segs[1]), 1, "{:?}", r.logs);
    r.landing.append("customers", id_batch(6)).await.unwrap();
    flush_and_stop(r.landing).await;
    assert_eq!(
        landed(dir.path()),
        [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)],
        "0 lost, 0 twice, no sequence number reused"
    );
    assert_eq!(quarantined(dir.path()), [found]);
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_header_with_no_intact_frame_is_removed_and_nothing_lands_twice() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    spool_and_stop(dir.path(), "lander-landed", 1..=2).await;
    let [seg] = &segments(dir.path())[..] else {
        panic!("the landed segment is still in the spool")
    };
    // Torn inside the header: no frame is left.
    let found = damage(seg, |b| b.truncate(20));
    let r = restart(dir.path(), "a");
    assert!(!seg.exists(), "removed");
    assert_eq!(r.counters.get(SPOOL_CORRUPT_HEADERS_TOTAL), Some(&1));
    assert_eq!(r.errors_naming(seg), 1, "{:?}", r.logs);
    r.landing.append("customers", id_batch(3)).await.unwrap();
    flush_and_stop(r.landing).await;
    assert_eq!(
        landed(dir.path()),
        [(1, 1), (2, 2), (3, 3)],
        "nothing twice"
    );
    assert_eq!(quarantined(dir.path()), [found]);
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_last_frame_of_a_sealed_segment_is_quarantined_not_cut_as_torn() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    spool_and_stop(dir.path(), "sink-put", 1..=5).await;
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 2, "{segs:?}");
    // Inside the last record of the first segment (sealed: a later one was opened).
    let found = damage(&segs[0], |b| {
        let last = b.len() - 2;
        b[last] ^= 0x20;
    });
    let r = restart(dir.path(), "a");
    assert_eq!(r.counters.get(SPOOL_CORRUPT_FRAMES_TOTAL), Some(&1));
    assert_eq!(r.counters.get(SPOOL_CORRUPT_HEADERS_TOTAL), None);
    assert_eq!(r.errors_naming(&segs[0]), 1, "{:?}", r.logs);
    r.landing.append("customers", id_batch(6)).await.unwrap();
    flush_and_stop(r.landing).await;
    assert_eq!(
        landed(dir.path()),
        [(1, 1), (2, 2), (4, 4), (5, 5), (6, 6)],
        "the intact frames land once; the corrupt one's number is not reused"
    );
    assert_eq!(quarantined(dir.path()), [found]);
    scenario.teardown();
}

/// Counter values by name (labels ignored: one stream).
#[derive(Default)]
struct Counters(Mutex<HashMap<String, u64>>);

struct Recorder(Arc<Counters>);

struct Counter(Arc<Counters>, String);

impl metrics::CounterFn for Counter {
    fn increment(&self, value: u64) {
        *self.0.0.lock().unwrap().entry(self.1.clone()).or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.0.0.lock().unwrap().insert(self.1.clone(), value);
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(Arc::new(Counter(self.0.clone(), key.name().to_owned())))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// A subscriber keeping each event's level and fields as text.
struct Logs(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
