//! Live per-stream statistics for the status page: counters fed by one-line hooks in the
//! append path, the spool writer and the lander, a fixed-bucket ack-latency histogram, and a
//! sampler task that records the counters every [`SAMPLE_EVERY`] into a ring of
//! [`SAMPLES_KEPT`] samples (about ten minutes) from which rates and recent percentiles come.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metric_names::{
    BYTES_LANDED_TOTAL, FILES_LANDED_TOTAL, RECORDS_LANDED_TOTAL, SINK_COLLISIONS_TOTAL,
    SINK_ERRORS_TOTAL, SNOWPIPE_ERRORS_TOTAL, SNOWPIPE_FILES_TOTAL,
    STREAM_LAST_LANDED_TIMESTAMP_SECONDS,
};

use super::snapshot::{LandedFile, Latency, RatePoint};

/// How often the sampler records a stream's counters.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Samples kept per stream: ten minutes at [`SAMPLE_EVERY`].
pub const SAMPLES_KEPT: usize = 300;
/// Landed files kept per stream for the page's "last files" table.
pub const RECENT_FILES: usize = 20;
/// Upper bounds (milliseconds) of the ack-latency histogram's buckets; one more bucket holds
/// everything slower.
pub const LATENCY_BOUNDS_MS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];
const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;
/// Ack-latency percentiles are over this window (or the whole run while it is shorter).
const LATENCY_WINDOW: Duration = Duration::from_secs(60);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Clone)]
struct Sample {
    at_ms: u64,
    records: u64,
    bytes: u64,
    latency: [u64; BUCKETS],
}

/// The live statistics of one stream (shared by its hooks, the sampler and the status view).
pub(crate) struct StreamStats {
    pub name: String,
    started_ms: u64,
    records: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    latency: [AtomicU64; BUCKETS],
    /// When the open batch (spool segment) was opened; 0: none is open.
    open_since_ms: AtomicU64,
    files_landed: AtomicU64,
    records_landed: AtomicU64,
    bytes_landed: AtomicU64,
    /// When the last batch file landed; 0: none yet this run.
    last_landed_ms: AtomicU64,
    recent: Mutex<VecDeque<LandedFile>>,
    samples: Mutex<VecDeque<Sample>>,
    /// Set by the staleness monitor.
    pub(crate) stale: AtomicBool,
    /// The staleness threshold in ms (0: not watched), set by the staleness monitor.
    pub(crate) stale_after_ms: AtomicU64,
}

impl StreamStats {
    /// Statistics for `name`, with a sampler task that lives as long as they do. Also
    /// publishes the stream's landing (and, with `snowpipe`, notifier) counters at zero, so
    /// `rate()` and the alert rules see the series from the start. Inside a tokio runtime.
    pub fn start(name: &str, snowpipe: bool) -> Arc<StreamStats> {
        for counter in [
            FILES_LANDED_TOTAL,
            RECORDS_LANDED_TOTAL,
            BYTES_LANDED_TOTAL,
            SINK_ERRORS_TOTAL,
            SINK_COLLISIONS_TOTAL,
        ] {
            metrics::counter!(counter, "stream" => name.to_owned()).increment(0);
        }
        if snowpipe {
            for status in ["loaded", "partially_loaded", "load_failed"] {
                metrics::counter!(SNOWPIPE_FILES_TOTAL, "stream" => name.to_owned(), "status" => status)
                    .increment(0);
            }
            metrics::counter!(SNOWPIPE_ERRORS_TOTAL, "stream" => name.to_owned(), "operation" => "insertFiles")
                .increment(0);
        }
        let stats = Arc::new(StreamStats {
            name: name.to_owned(),
            started_ms: now_ms(),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            open_since_ms: AtomicU64::new(0),
            files_landed: AtomicU64::new(0),
            records_landed: AtomicU64::new(0),
            bytes_landed: AtomicU64::new(0),
            last_landed_ms: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_FILES)),
            samples: Mutex::new(VecDeque::with_capacity(SAMPLES_KEPT)),
            stale: AtomicBool::new(false),
            stale_after_ms: AtomicU64::new(0),
        });
        stats.sample();
        let weak = Arc::downgrade(&stats);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(s) => s.sample(),
                    None => break,
                }
            }
        });
        stats
    }

    /// Hook: a request of `records` records and `bytes` bytes was acknowledged `latency`
    /// after it reached the spool.
    pub fn acked(&self, records: u64, bytes: u64, latency: Duration) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let ms = latency.as_secs_f64() * 1000.0;
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS - 1);
        self.latency[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Hook: the spool writer opened a batch (`at_ms`), or closed it (`None`).
    pub fn batch_open(&self, at_ms: Option<u64>) {
        self.open_since_ms
            .store(at_ms.unwrap_or(0), Ordering::Relaxed);
    }

    /// Hook: the lander put a batch file to the sink.
    pub fn landed(&self, key: &str, records: u64, bytes: u64) {
        let at = now_ms();
        self.files_landed.fetch_add(1, Ordering::Relaxed);
        self.records_landed.fetch_add(records, Ordering::Relaxed);
        self.bytes_landed.fetch_add(bytes, Ordering::Relaxed);
        self.last_landed_ms.store(at, Ordering::Release);
        metrics::gauge!(STREAM_LAST_LANDED_TIMESTAMP_SECONDS, "stream" => self.name.clone())
            .set(at as f64 / 1000.0);
        let mut recent = self.recent.lock().expect("lock");
        if recent.len() == RECENT_FILES {
            recent.pop_back();
        }
        recent.push_front(LandedFile {
            key: key.to_owned(),
            records,
            bytes,
            landed_ms: at,
        });
    }

    /// When the last file landed (ms since the epoch), if one did this run.
    pub fn last_landed_ms(&self) -> Option<u64> {
        Some(self.last_landed_ms.load(Ordering::Acquire)).filter(|&t| t > 0)
    }

    /// When these statistics started (ms since the epoch): the baseline for staleness.
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    fn sample(&self) {
        let s = Sample {
            at_ms: now_ms(),
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            latency: std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed)),
        };
        let mut samples = self.samples.lock().expect("lock");
        if samples.len() == SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(s);
    }

    /// The counters as a status view (without the spool and notifier parts).
    pub fn view(&self) -> StatsView {
        let now = now_ms();
        let samples: Vec<Sample> = self.samples.lock().expect("lock").iter().cloned().collect();
        let rate: Vec<RatePoint> = samples
            .windows(2)
            .filter_map(|w| {
                let dt = w[1].at_ms.saturating_sub(w[0].at_ms) as f64 / 1000.0;
                (dt > 0.0).then(|| RatePoint {
                    at_ms: w[1].at_ms,
                    records_per_s: (w[1].records - w[0].records) as f64 / dt,
                    mb_per_s: (w[1].bytes - w[0].bytes) as f64 / dt / 1e6,
                })
            })
            .collect();
        let current: [u64; BUCKETS] =
            std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed));
        let window_start = now.saturating_sub(LATENCY_WINDOW.as_millis() as u64);
        let base = samples
            .iter()
            .find(|s| s.at_ms >= window_start)
            .map_or([0; BUCKETS], |s| s.latency);
        let counts: [u64; BUCKETS] = std::array::from_fn(|i| current[i].saturating_sub(base[i]));
        let open = self.open_since_ms.load(Ordering::Relaxed);
        StatsView {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            rate,
            latency: latency(&counts),
            open_batch_age_s: (open > 0).then(|| now.saturating_sub(open) as f64 / 1000.0),
            files_landed: self.files_landed.load(Ordering::Relaxed),
            records_landed: self.records_landed.load(Ordering::Relaxed),
            bytes_landed: self.bytes_landed.load(Ordering::Relaxed),
            last_landed_ms: self.last_landed_ms(),
            recent: self.recent.lock().expect("lock").iter().cloned().collect(),
            stale: self.stale.load(Ordering::Relaxed),
            stale_after_ms: self.stale_after_ms.load(Ordering::Relaxed),
        }
    }
}

/// What [`StreamStats::view`] reads.
pub(crate) struct StatsView {
    pub records: u64,
    pub bytes: u64,
    pub requests: u64,
    pub rate: Vec<RatePoint>,
    pub latency: Latency,
    pub open_batch_age_s: Option<f64>,
    pub files_landed: u64,
    pub records_landed: u64,
    pub bytes_landed: u64,
    pub last_landed_ms: Option<u64>,
    pub recent: Vec<LandedFile>,
    pub stale: bool,
    pub stale_after_ms: u64,
}

/// p50/p99 from bucket counts: the upper bound of the bucket holding the quantile (the
/// overflow bucket reports the largest bound), as Prometheus' `histogram_quantile` would at
/// the bucket edge.
fn latency(counts: &[u64; BUCKETS]) -> Latency {
    let total: u64 = counts.iter().sum();
    let quantile = |q: f64| -> Option<f64> {
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(LATENCY_BOUNDS_MS[i.min(LATENCY_BOUNDS_MS.len() - 1)]);
            }
        }
        None
    };
    Latency {
        count: total,
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
    }
}

impl crate::spool::BatchWatch for StreamStats {
    fn batch_open(&self, opened_at_ms: Option<u64>) {
        StreamStats::batch_open(self, opened_at_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_upper_bounds() {
        let mut c = [0u64; BUCKETS];
        c[2] = 98; // ≤ 2.5 ms
        c[8] = 2; // ≤ 250 ms
        let l = latency(&c);
        assert_eq!((l.count, l.p50_ms, l.p99_ms), (100, Some(2.5), Some(250.0)));
        assert_eq!(latency(&[0; BUCKETS]).p50_ms, None);
        let mut slow = [0u64; BUCKETS];
        slow[BUCKETS - 1] = 1;
        assert_eq!(latency(&slow).p99_ms, Some(10000.0));
    }

    #[tokio::test]
    async fn hooks_feed_the_view() {
        let s = StreamStats::start("s", false);
        s.acked(10, 1000, Duration::from_millis(3));
        s.batch_open(Some(now_ms() - 1500));
        s.landed("k1", 10, 99);
        s.landed("k2", 5, 50);
        let v = s.view();
        assert_eq!((v.records, v.bytes, v.requests), (10, 1000, 1));
        assert_eq!(v.latency.p50_ms, Some(5.0));
        assert!(v.open_batch_age_s.unwrap() >= 1.5);
        assert_eq!(v.recent[0].key, "k2");
        assert_eq!(
            (v.files_landed, v.records_landed, v.bytes_landed),
            (2, 15, 149)
        );
        s.batch_open(None);
        assert_eq!(s.view().open_batch_age_s, None);
    }
}
