//! Progress reporting shared by the HTTP and file targets: an indicatif bar on a terminal,
//! plain periodic lines otherwise, or nothing; plus the counters behind the final summary.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressDisplay {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    Bar,
    /// A line on stderr every few seconds.
    Plain,
    Hidden,
}

/// What a run did. `sent` counts records posted at least once, `acknowledged` those the
/// target accepted, `retried` the requests repeated after an error, `failed` the records
/// given up on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub batches: u64,
    pub sent: u64,
    pub acknowledged: u64,
    pub retried: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.acknowledged as f64 / secs
        } else {
            0.0
        };
        write!(
            f,
            "sent {} records in {} batches: {} acknowledged, {} retried requests, {} failed, in {:.1}s ({:.0} records/s)",
            self.sent, self.batches, self.acknowledged, self.retried, self.failed, secs, rate
        )
    }
}

/// Counters plus their display; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    batches: AtomicU64,
    sent: AtomicU64,
    acknowledged: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    start: Instant,
    total: Option<u64>,
    bar: Option<ProgressBar>,
    /// Last time a plain line was printed (None when not in plain mode).
    plain: Option<Mutex<Instant>>,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// `total`: the number of records expected, if known.
    pub fn new(total: Option<u64>, display: ProgressDisplay) -> Self {
        let display = match display {
            ProgressDisplay::Auto if std::io::stderr().is_terminal() => ProgressDisplay::Bar,
            ProgressDisplay::Auto => ProgressDisplay::Plain,
            d => d,
        };
        let bar = (display == ProgressDisplay::Bar).then(|| {
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::new(n),
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records, {msg}",
                ),
                None => (
                    ProgressBar::no_length(),
                    "{spinner} [{elapsed_precise}] {pos} records, {msg}",
                ),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(template).unwrap_or(ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let start = Instant::now();
        Progress {
            inner: Arc::new(Inner {
                batches: AtomicU64::new(0),
                sent: AtomicU64::new(0),
                acknowledged: AtomicU64::new(0),
                retried: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                start,
                total,
                bar,
                plain: (display == ProgressDisplay::Plain).then(|| Mutex::new(start)),
            }),
        }
    }

    /// Counts without showing anything (library use, tests).
    pub fn hidden() -> Self {
        Progress::new(None, ProgressDisplay::Hidden)
    }

    /// A batch of `n` records is about to be sent for the first time.
    pub fn sent(&self, n: u64) {
        self.inner.batches.fetch_add(1, Relaxed);
        self.inner.sent.fetch_add(n, Relaxed);
    }

    /// `n` records were accepted by the target.
    pub fn acknowledged(&self, n: u64) {
        self.inner.acknowledged.fetch_add(n, Relaxed);
        if let Some(bar) = &self.inner.bar {
            bar.inc(n);
            self.update_message();
        }
        self.tick();
    }

    /// A request is being repeated because of `why`.
    pub fn retried(&self, why: &str) {
        self.inner.retried.fetch_add(1, Relaxed);
        let line = format!("retrying: {why}");
        match &self.inner.bar {
            Some(bar) => bar.println(line),
            None if self.inner.plain.is_some() => eprintln!("{line}"),
            None => {}
        }
        self.update_message();
    }

    /// `n` records were given up on.
    pub fn failed(&self, n: u64) {
        self.inner.failed.fetch_add(n, Relaxed);
        self.update_message();
    }

    fn update_message(&self) {
        if let Some(bar) = &self.inner.bar {
            let s = self.summary();
            let rate = s.acknowledged as f64 / s.elapsed.as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{rate:.0}/s, {} retried, {} failed",
                s.retried, s.failed
            ));
        }
    }

    fn tick(&self) {
        let Some(last) = &self.inner.plain else {
            return;
        };
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= PLAIN_EVERY {
            *last = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let s = self.summary();
        let secs = s.elapsed.as_secs_f64().max(0.001);
        let of = self
            .inner
            .total
            .map(|t| format!("/{t}"))
            .unwrap_or_default();
        format!(
            "[{:>6.0}s] {}{} records acknowledged ({:.0}/s), {} retried, {} failed",
            secs,
            s.acknowledged,
            of,
            s.acknowledged as f64 / secs,
            s.retried,
            s.failed
        )
    }

    /// The counters now.
    pub fn summary(&self) -> Summary {
        let i = &self.inner;
        Summary {
            batches: i.batches.load(Relaxed),
            sent: i.sent.load(Relaxed),
            acknowledged: i.acknowledged.load(Relaxed),
            retried: i.retried.load(Relaxed),
            failed: i.failed.load(Relaxed),
            elapsed: i.start.elapsed(),
        }
    }

    /// Removes the bar (the caller prints the [`Summary`]).
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}
