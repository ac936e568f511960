//! The background task of one stream: sends queued keys to `insertFiles` (≤ 5,000 a call,
//! retrying with backoff, acknowledging queue entries only after a 200 and retrying only the
//! acknowledgement, with the same backoff, when the queue file refuses it), then follows their
//! load status through `insertReport` (and `loadHistoryScan` once a file is older than
//! Snowflake keeps `insertReport` events) and reports it as metrics and logs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::Notify;

use snowpipe::{FileReport, MAX_FILES_PER_CALL, SnowpipeClient};

use super::SnowpipeStatus;
use super::queue::NotifyQueue;
use crate::retry::Backoff;

pub(crate) struct Notifier {
    pub stream: String,
    pub queue: Arc<NotifyQueue>,
    pub client: SnowpipeClient,
    pub wake: Arc<Notify>,
    pub status: Arc<Mutex<SnowpipeStatus>>,
    pub strip_prefix: String,
    pub batch: usize,
    pub poll_interval: Duration,
    pub history_after: Duration,
    pub give_up_after: Duration,
}

/// Width of one loadHistoryScan window, from just before the oldest file still waiting.
const SCAN_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Pages one scan may read (each page holds at most 10,000 loads).
const SCAN_PAGES: usize = 5;

struct Sent {
    at: Instant,
    wall: SystemTime,
}

impl Notifier {
    /// The path Snowpipe sees: the key relative to the location in the pipe's COPY statement.
    fn stage_path<'a>(&self, key: &'a str) -> &'a str {
        let p = self.strip_prefix.trim_matches('/');
        if p.is_empty() {
            return key;
        }
        key.strip_prefix(p)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(key)
    }

    pub async fn run(self) {
        let mut awaiting: HashMap<String, Sent> = HashMap::new();
        let mut begin_mark: Option<String> = None;
        let mut attempt = 0u32;
        let mut next_poll = Instant::now();
        let mut last_scan: Option<Instant> = None;
        loop {
            // 1. Notify everything queued, a batch at a time.
            let mut failed = false;
            loop {
                let keys = self.queue.peek(self.batch.clamp(1, MAX_FILES_PER_CALL));
                if keys.is_empty() {
                    break;
                }
                let paths: Vec<String> =
                    keys.iter().map(|k| self.stage_path(k).to_owned()).collect();
                match self.client.insert_files(&paths).await {
                    Ok(answer) => {
                        attempt = 0;
                        // Counted before the queue shrinks, so whoever sees the queue drained
                        // also sees these files as notified.
                        {
                            let mut st = self.status.lock().expect("lock");
                            st.notified += keys.len() as u64;
                            st.last_error = None;
                        }
                        self.remove_sent(&keys).await;
                        metrics::counter!(crate::metric_names::SNOWPIPE_FILES_TOTAL, "stream" => self.stream.clone(), "status" => "notified")
                            .increment(paths.len() as u64);
                        tracing::info!(stream = %self.stream, files = paths.len(), "notified Snowpipe (insertFiles)");
                        let unmatched = answer.unmatched_pattern_files;
                        if !unmatched.is_empty() {
                            self.unmatched(&unmatched);
                        }
                        let now = (Instant::now(), SystemTime::now());
                        for p in paths.into_iter().filter(|p| !unmatched.contains(p)) {
                            awaiting.insert(
                                p,
                                Sent {
                                    at: now.0,
                                    wall: now.1,
                                },
                            );
                        }
                    }
                    Err(e) => {
                        metrics::counter!(crate::metric_names::SNOWPIPE_ERRORS_TOTAL, "stream" => self.stream.clone(), "operation" => "insertFiles")
                            .increment(1);
                        let delay = Backoff::NOTIFIER.delay(attempt);
                        if e.is_transient() {
                            tracing::warn!(stream = %self.stream, files = keys.len(), error = %e, retry_in = ?delay,
                                "insertFiles failed; the files stay queued and will be sent again");
                        } else {
                            tracing::error!(stream = %self.stream, files = keys.len(), error = %e, retry_in = ?delay,
                                "Snowpipe refused insertFiles; check the account, user, key, pipe name and grants (files stay queued)");
                        }
                        self.status.lock().expect("lock").last_error = Some(e.to_string());
                        attempt = attempt.saturating_add(1);
                        failed = true;
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = self.wake.notified() => {}
                        }
                        break;
                    }
                }
            }
            if failed {
                continue;
            }
            // 2. Follow the load status of what was sent.
            if !awaiting.is_empty() && Instant::now() >= next_poll {
                self.poll(&mut awaiting, &mut begin_mark, &mut last_scan)
                    .await;
                next_poll = Instant::now() + self.poll_interval;
            }
            let wait = if awaiting.is_empty() {
                Duration::from_secs(3600)
            } else {
                next_poll.saturating_duration_since(Instant::now())
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Removes `keys`, which Snowpipe has accepted, from the queue; while the queue file
    /// refuses that, retries only the removal, waiting per [`Backoff::NOTIFIER`] as after a
    /// failed `insertFiles`, so the keys are neither sent again nor sent in a hot loop. Logs
    /// an ERROR when such an episode begins and an INFO when it ends.
    ///
    /// A restart meanwhile finds the keys still queued and sends them again. That is harmless:
    /// a pipe keeps the load history of its files (14 days, "Load history" in
    /// <https://docs.snowflake.com/en/user-guide/data-load-snowpipe-intro>) and does not load
    /// a file name twice ("Reload a file that Snowpipe already processed: stage the file under
    /// a new name", <https://docs.snowflake.com/en/user-guide/data-load-snowpipe-manage>).
    async fn remove_sent(&self, keys: &[String]) {
        let mut retry = 0u32;
        loop {
            let Err(e) = self.queue.ack(keys) else {
                if retry > 0 {
                    tracing::info!(stream = %self.stream, files = keys.len(), retries = retry,
                        "the Snowpipe queue recorded the notified files again");
                }
                return;
            };
            let delay = Backoff::NOTIFIER.delay(retry);
            if retry == 0 {
                tracing::error!(stream = %self.stream, queue = %self.queue.path().display(), files = keys.len(), error = %e, retry_in = ?delay,
                    "Snowpipe accepted the files but the queue could not record it; retrying the removal, not the call (after a restart they are notified again, and Snowpipe skips files it already loaded)");
            } else {
                tracing::debug!(stream = %self.stream, error = %e, retry_in = ?delay,
                    "the Snowpipe queue still cannot record the notified files");
            }
            retry = retry.saturating_add(1);
            tokio::time::sleep(delay).await;
        }
    }

    async fn poll(
        &self,
        awaiting: &mut HashMap<String, Sent>,
        begin_mark: &mut Option<String>,
        last_scan: &mut Option<Instant>,
    ) {
        match self.client.insert_report(begin_mark.as_deref()).await {
            Ok(report) => {
                for f in &report.files {
                    self.settle(awaiting, f);
                }
                if report.next_begin_mark.is_some() {
                    *begin_mark = report.next_begin_mark;
                }
            }
            Err(e) => {
                metrics::counter!(crate::metric_names::SNOWPIPE_ERRORS_TOTAL, "stream" => self.stream.clone(), "operation" => "insertReport")
                    .increment(1);
                tracing::warn!(stream = %self.stream, error = %e, "insertReport failed; will ask again");
            }
        }
        let old: Vec<&Sent> = awaiting
            .values()
            .filter(|s| s.at.elapsed() >= self.history_after)
            .collect();
        // loadHistoryScan is rate-limited by Snowflake: at most once a minute.
        let scan_every = self.history_after.min(Duration::from_secs(60));
        let scan_due = last_scan.is_none_or(|t| t.elapsed() >= scan_every);
        if let Some(oldest) = old.iter().map(|s| s.wall).min().filter(|_| scan_due) {
            *last_scan = Some(Instant::now());
            // A narrow window from just before the oldest file still waiting, not everything
            // since: the REST reference recommends narrow ranges and answers frequent wide
            // scans with 429. Later files are looked up once the older ones are settled.
            let from = oldest - Duration::from_secs(60);
            let to = (from + SCAN_WINDOW).min(SystemTime::now());
            let text = |t: SystemTime| {
                DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
            };
            let (start, end) = (text(from), text(to));
            match self
                .client
                .load_history_scan(&start, Some(&end), SCAN_PAGES)
                .await
            {
                Ok((files, complete)) => {
                    if !complete {
                        tracing::warn!(stream = %self.stream, %start, %end, pages = SCAN_PAGES,
                            "loadHistoryScan still had more loads after its last page; the rest is asked for next time");
                    }
                    for f in &files {
                        self.settle(awaiting, f);
                    }
                }
                Err(e) => {
                    metrics::counter!(crate::metric_names::SNOWPIPE_ERRORS_TOTAL, "stream" => self.stream.clone(), "operation" => "loadHistoryScan")
                        .increment(1);
                    tracing::warn!(stream = %self.stream, error = %e, "loadHistoryScan failed; will ask again");
                }
            }
        }
        let expired: Vec<String> = awaiting
            .iter()
            .filter(|(_, s)| s.at.elapsed() >= self.give_up_after)
            .map(|(p, _)| p.clone())
            .collect();
        for p in expired {
            awaiting.remove(&p);
            self.count("unknown");
            self.status.lock().expect("lock").unknown += 1;
            tracing::warn!(stream = %self.stream, file = %p,
                "Snowpipe reported no load status for this file; it may have been loaded before (Snowpipe skips files it already loaded) — check COPY_HISTORY");
        }
    }

    /// Files the pipe's PATTERN skipped: they will never load, so they are not waited for;
    /// each is an error (a pipe written for other keys, or a strip prefix that does not match
    /// its location).
    fn unmatched(&self, paths: &[String]) {
        let mut st = self.status.lock().expect("lock");
        for p in paths {
            self.count("unmatched_pattern");
            st.failed += 1;
            tracing::error!(stream = %self.stream, file = %p,
                "Snowpipe skipped the file: it does not match the pipe's PATTERN (unmatchedPatternFiles); check the pipe's COPY location and PATTERN against --snowpipe-strip-prefix");
            st.rejected.insert(
                0,
                super::RejectedFile {
                    path: p.clone(),
                    status: "UNMATCHED_PATTERN".to_owned(),
                    first_error: Some("not matched by the pipe's PATTERN".to_owned()),
                },
            );
        }
        st.rejected.truncate(super::REJECTED_KEPT);
    }

    fn count(&self, status: &'static str) {
        metrics::counter!(crate::metric_names::SNOWPIPE_FILES_TOTAL, "stream" => self.stream.clone(), "status" => status)
            .increment(1);
    }

    /// Records a final status for a file we are waiting on.
    fn settle(&self, awaiting: &mut HashMap<String, Sent>, f: &FileReport) {
        if f.status == "LOAD_IN_PROGRESS" || f.complete == Some(false) {
            return;
        }
        if awaiting.remove(&f.path).is_none() {
            return;
        }
        let mut st = self.status.lock().expect("lock");
        match f.status.as_str() {
            "LOADED" => {
                self.count("loaded");
                st.loaded += 1;
                tracing::debug!(stream = %self.stream, file = %f.path, rows = f.rows_inserted, "Snowpipe loaded the file");
            }
            other => {
                let label = if other == "PARTIALLY_LOADED" {
                    st.partially_loaded += 1;
                    "partially_loaded"
                } else {
                    st.failed += 1;
                    "load_failed"
                };
                self.count(label);
                tracing::warn!(stream = %self.stream, file = %f.path, status = %other,
                    error = f.first_error.as_deref().or(f.system_error.as_deref()).unwrap_or("(no error text)"),
                    line = f.first_error_line_num, rows_inserted = f.rows_inserted, errors_seen = f.errors_seen,
                    "Snowpipe did not load the whole file");
                st.rejected.insert(
                    0,
                    super::RejectedFile {
                        path: f.path.clone(),
                        status: other.to_owned(),
                        first_error: f.first_error.clone(),
                    },
                );
                st.rejected.truncate(super::REJECTED_KEPT);
            }
        }
    }
}
