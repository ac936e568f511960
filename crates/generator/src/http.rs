//! HTTP target: POSTs batches to any URL (NiFi ListenHTTP, snowstream's `/contentListener`),
//! one request at a time by default so delivery order is kept, with a rate limit and retries.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};

use crate::GenError;
use crate::encode::{Format, encode_batch_with};
use crate::progress::{Progress, Summary};
use crate::record::Customer;

/// Where and how to post.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    pub url: String,
    pub format: Format,
    /// Records per request (at least 1).
    pub batch_size: usize,
    /// Records per second; 0 for as fast as the target acknowledges.
    pub rate: f64,
    /// Requests in flight at once. 1 keeps delivery order; more trades order for throughput
    /// (the oracle does not depend on order).
    pub concurrency: usize,
    /// Extra HTTP headers on every request.
    pub headers: Vec<(String, String)>,
    /// FlowFile attributes: inside each FlowFile for `flowfile-v3`, else sent as headers
    /// (NiFi's ListenHTTP turns headers matching its attribute regex into attributes).
    pub attributes: Vec<(String, String)>,
    /// Retries of one request after a 5xx, 408, 429 or a connection error.
    pub max_retries: u32,
    /// First retry delay, doubled each retry up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured (a larger one is cut to this).
    pub max_retry_after: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Gzip request bodies, flagged with `Content-Encoding: gzip` and NiFi's older
    /// `flowfile-gzipped: true` (ListenHTTP and snowstream accept either).
    pub gzip: bool,
}

impl HttpTarget {
    /// NDJSON, 100 records per request, unthrottled, 8 retries from 200 ms up to 10 s.
    pub fn new(url: impl Into<String>) -> Self {
        HttpTarget {
            url: url.into(),
            format: Format::Records(records::Format::Ndjson),
            batch_size: 100,
            rate: 0.0,
            concurrency: 1,
            headers: Vec::new(),
            attributes: Vec::new(),
            max_retries: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            gzip: false,
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Posts batches for one target (keeps the connection pool between requests).
pub struct HttpSender {
    target: HttpTarget,
    client: reqwest::Client,
    headers: HeaderMap,
}

impl HttpSender {
    pub fn new(target: HttpTarget) -> Result<Self, GenError> {
        let bad = |what: &str, k: &str, e: &dyn std::fmt::Display| {
            GenError::InvalidConfig(format!("{what} {k:?}: {e}"))
        };
        let mut headers = HeaderMap::new();
        let as_headers = if target.format == Format::FlowFileV3 {
            &[][..]
        } else {
            &target.attributes[..]
        };
        for (k, v) in target.headers.iter().chain(as_headers) {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| bad("invalid header name", k, &e))?;
            let value = HeaderValue::from_str(v).map_err(|e| bad("invalid header value", v, &e))?;
            headers.insert(name, value);
        }
        if target.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.insert("flowfile-gzipped", HeaderValue::from_static("true"));
        }
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(target.format.content_type()),
            );
        }
        let client = reqwest::Client::builder()
            .timeout(target.timeout)
            .user_agent(concat!("snowstream-gen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GenError::InvalidConfig(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpSender {
            target,
            client,
            headers,
        })
    }

    pub fn target(&self) -> &HttpTarget {
        &self.target
    }

    /// Posts one batch, retrying as configured. A 4xx other than 408/429 is fatal and the
    /// error carries the server's response body.
    pub async fn send_batch(
        &self,
        records: &[Customer],
        progress: &Progress,
    ) -> Result<(), GenError> {
        let n = records.len() as u64;
        let (mut body, _) = encode_batch_with(records, self.target.format, &self.target.attributes);
        if self.target.gzip {
            body = gzip(&body);
        }
        progress.sent(n);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .post(&self.target.url)
                .headers(self.headers.clone())
                .body(body.clone())
                .send()
                .await;
            let (why, retry_after) = match result {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        progress.acknowledged(n);
                        return Ok(());
                    }
                    let retry_after = retry_after(resp.headers());
                    let reason = reason(resp).await;
                    let retryable = status.is_server_error()
                        || status == StatusCode::REQUEST_TIMEOUT
                        || status == StatusCode::TOO_MANY_REQUESTS;
                    if !retryable {
                        progress.failed(n);
                        return Err(GenError::Rejected {
                            url: self.target.url.clone(),
                            status: status.as_u16(),
                            reason,
                        });
                    }
                    (format!("HTTP {status}: {reason}"), retry_after)
                }
                Err(e) => (error_chain(&e), None),
            };
            if attempt > self.target.max_retries {
                progress.failed(n);
                return Err(GenError::GaveUp {
                    url: self.target.url.clone(),
                    attempts: attempt,
                    last: why,
                });
            }
            let delay = retry_after
                .map(|d| d.min(self.target.max_retry_after))
                .unwrap_or_else(|| self.target.backoff(attempt));
            progress.retried(&format!(
                "{why} (attempt {attempt}, next in {:.1}s)",
                delay.as_secs_f64()
            ));
            tokio::time::sleep(delay).await;
        }
    }
}

/// Spaces sends so that on average no more than `rate` records per second go out.
pub struct Pacer {
    rate: f64,
    start: tokio::time::Instant,
    records: u64,
}

impl Pacer {
    /// `rate` records/s; 0 (or less) means no limit.
    pub fn new(rate: f64) -> Self {
        Pacer {
            rate,
            start: tokio::time::Instant::now(),
            records: 0,
        }
    }

    /// Waits until `n` more records may go out.
    pub async fn wait(&mut self, n: u64) {
        if self.rate > 0.0 {
            let due = self.start + Duration::from_secs_f64(self.records as f64 / self.rate);
            tokio::time::sleep_until(due).await;
        }
        self.records += n;
    }
}

/// Posts `records` in batches of `target.batch_size`, in order, at `target.rate`. Stops at
/// the first batch that fails for good.
pub async fn send_http(
    target: &HttpTarget,
    records: &[Customer],
    progress: &Progress,
) -> Result<Summary, GenError> {
    let before = progress.summary();
    let started = Instant::now();
    let sender = Arc::new(HttpSender::new(target.clone())?);
    let batches = records.chunks(target.batch_size.max(1)).map(<[_]>::to_vec);
    let result = send_batches(sender, batches, None, progress, |_| {}).await;
    let after = progress.summary();
    result.map(|()| Summary {
        batches: after.batches - before.batches,
        sent: after.sent - before.sent,
        acknowledged: after.acknowledged - before.acknowledged,
        retried: after.retried - before.retried,
        failed: after.failed - before.failed,
        elapsed: started.elapsed(),
    })
}

/// Posts `batches` (pulled lazily, so the stream may be endless) at the target's rate with
/// up to `concurrency` requests in flight, until they run out or `stop_at` passes.
/// `on_ack` sees every acknowledged batch (e.g. to feed an [`crate::oracle::Builder`]).
/// After the first batch that fails for good, no new batch is started; the requests in
/// flight finish and the first error is returned.
pub async fn send_batches(
    sender: Arc<HttpSender>,
    batches: impl IntoIterator<Item = Vec<Customer>>,
    stop_at: Option<tokio::time::Instant>,
    progress: &Progress,
    mut on_ack: impl FnMut(&[Customer]),
) -> Result<(), GenError> {
    let limit = sender.target.concurrency.max(1);
    let mut pacer = Pacer::new(sender.target.rate);
    let mut in_flight = JoinSet::new();
    let mut first_error = None;
    let mut batches = batches.into_iter();
    loop {
        while in_flight.len() >= limit {
            let done = in_flight.join_next().await.expect("set is not empty");
            let (batch, result): (Vec<Customer>, Result<(), GenError>) =
                done.expect("send task panicked");
            match result {
                Ok(()) => on_ack(&batch),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            break;
        }
        let Some(batch) = batches.next() else { break };
        pacer.wait(batch.len() as u64).await;
        if stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
            break;
        }
        let sender = sender.clone();
        let progress = progress.clone();
        in_flight.spawn(async move {
            let result = sender.send_batch(&batch, &progress).await;
            (batch, result)
        });
    }
    while let Some(done) = in_flight.join_next().await {
        let (batch, result) = done.expect("send task panicked");
        match result {
            Ok(()) => on_ack(&batch),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (when.timestamp_millis() - chrono::Utc::now().timestamp_millis()).max(0);
    Some(Duration::from_millis(ms as u64))
}

/// The response body as text, trimmed and cut to a readable length.
async fn reason(resp: reqwest::Response) -> String {
    const MAX: usize = 2000;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_string();
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers("3")), Some(Duration::from_secs(3)));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = soon.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let d = retry_after(&headers(&date)).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let past = retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")).unwrap();
        assert_eq!(past, Duration::ZERO);
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let t = HttpTarget::new("http://127.0.0.1:1/");
        let delays: Vec<u128> = (1..=8).map(|r| t.backoff(r).as_millis()).collect();
        assert_eq!(
            delays,
            vec![200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        assert_eq!(t.backoff(60).as_millis(), 10_000);
    }
}
