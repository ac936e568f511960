//! The load generator: N keep-alive HTTP/1.1 connections, each its own task sending one
//! request at a time, for a warm-up and then a measured window.
//!
//! Throughput counts responses that *completed* inside the measured window; latency is
//! request start → whole 2xx response read (the ack latency a NiFi client sees). Every 2xx
//! adds its records to `acked_records` whatever the phase, so the landed count can be
//! checked against it afterwards.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::workload::Payload;

/// What to send and how.
#[derive(Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub path: &'static str,
    pub content_type: &'static str,
    pub payloads: Arc<Vec<Payload>>,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// A request not answered within this is abandoned (its outcome is then unknown).
    pub request_timeout: Duration,
}

/// Results of one run of a [`Plan`].
#[derive(Debug)]
pub struct Outcome {
    /// Length of the measured window.
    pub window: Duration,
    /// 2xx responses completed in the window, and their request body bytes.
    pub ok: u64,
    pub ok_bytes: u64,
    /// Ack latency (µs) of the 2xx responses completed in the window.
    pub latency_us: Histogram<u64>,
    /// 503 responses (backpressure) over the whole run, warm-up included.
    pub unavailable: u64,
    /// Other HTTP statuses over the whole run (a bug in a benchmark setting).
    pub bad_status: u64,
    /// Connect errors, broken connections and timeouts over the whole run.
    pub transport_errors: u64,
    pub first_error: Option<String>,
    /// Records in every 2xx response of the run (warm-up and tail included).
    pub acked_records: u64,
    /// Request body bytes of every 2xx response of the run.
    pub acked_bytes: u64,
    /// Records of requests whose outcome is unknown (timeout or broken connection).
    pub unknown_records: u64,
}

impl Outcome {
    /// Waits for every load task and merges what they counted over a `window`-long
    /// measurement; a task that panicked counts as a transport error.
    pub async fn join(tasks: Vec<tokio::task::JoinHandle<Outcome>>, window: Duration) -> Outcome {
        let mut total = Outcome::empty();
        for t in tasks {
            match t.await {
                Ok(o) => total.merge(o),
                Err(e) => {
                    total.transport_errors += 1;
                    total.error(|| format!("load task failed: {e}"));
                }
            }
        }
        total.window = window;
        total
    }

    pub(crate) fn empty() -> Self {
        Outcome {
            window: Duration::ZERO,
            ok: 0,
            ok_bytes: 0,
            latency_us: new_histogram(),
            unavailable: 0,
            bad_status: 0,
            transport_errors: 0,
            first_error: None,
            acked_records: 0,
            acked_bytes: 0,
            unknown_records: 0,
        }
    }

    pub(crate) fn merge(&mut self, o: Outcome) {
        self.ok += o.ok;
        self.ok_bytes += o.ok_bytes;
        self.latency_us.add(&o.latency_us).expect("same bounds");
        self.unavailable += o.unavailable;
        self.bad_status += o.bad_status;
        self.transport_errors += o.transport_errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.acked_records += o.acked_records;
        self.acked_bytes += o.acked_bytes;
        self.unknown_records += o.unknown_records;
    }

    pub(crate) fn error(&mut self, msg: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Request body megabytes (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.ok_bytes as f64 / 1e6 / self.window.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds (None without samples).
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.latency_us.is_empty()).then(|| self.latency_us.value_at_quantile(q) as f64 / 1e3)
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// Runs the plan: warm-up, then the measured window. Must run inside a tokio runtime.
pub async fn run(plan: &Plan) -> Outcome {
    let measure_from = Instant::now() + plan.warmup;
    let stop_at = measure_from + plan.duration;
    let tasks: Vec<_> = (0..plan.connections)
        .map(|i| {
            let plan = plan.clone();
            tokio::spawn(async move { connection(&plan, i, measure_from, stop_at, None).await })
        })
        .collect();
    Outcome::join(tasks, plan.duration).await
}

/// Runs the plan at about `rate` requests per second in all (each connection sends one
/// request every `connections / rate` seconds, or at once when it fell behind): the
/// rate-limited run the ack-latency goal is measured with.
pub async fn run_paced(plan: &Plan, rate: f64) -> Outcome {
    let measure_from = Instant::now() + plan.warmup;
    let stop_at = measure_from + plan.duration;
    let every = Duration::from_secs_f64(plan.connections as f64 / rate.max(1.0));
    let tasks: Vec<_> = (0..plan.connections)
        .map(|i| {
            let plan = plan.clone();
            tokio::spawn(async move {
                // Spread the connections' first sends over one interval.
                tokio::time::sleep(every.mul_f64(i as f64 / plan.connections as f64)).await;
                connection(&plan, i, measure_from, stop_at, Some(every)).await
            })
        })
        .collect();
    Outcome::join(tasks, plan.duration).await
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("set TCP_NODELAY: {e}"))?;
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One keep-alive connection sending sequentially until `stop_at`; with `pace`, at most one
/// request per `pace`.
async fn connection(
    plan: &Plan,
    index: usize,
    measure_from: Instant,
    stop_at: Instant,
    pace: Option<Duration>,
) -> Outcome {
    let mut out = Outcome::empty();
    let mut due = tokio::time::Instant::now();
    let host = plan.addr.to_string();
    let mut sender: Option<Sender> = None;
    // Spread the connections over the payloads so they do not all send the same body.
    let mut next = index * 7919;
    while Instant::now() < stop_at {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match tokio::time::timeout(plan.request_timeout, connect(plan.addr)).await {
                Ok(Ok(s)) => sender.insert(s),
                Ok(Err(e)) => {
                    out.transport_errors += 1;
                    out.error(|| e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(_) => {
                    out.transport_errors += 1;
                    out.error(|| format!("connect {} timed out", plan.addr));
                    continue;
                }
            },
        };
        if let Some(every) = pace {
            tokio::time::sleep_until(due).await;
            due = (due + every).max(tokio::time::Instant::now());
        }
        let payload = &plan.payloads[next % plan.payloads.len()];
        next = next.wrapping_add(1);
        let req = Request::post(plan.path)
            .header(hyper::header::HOST, &host)
            .header(hyper::header::CONTENT_TYPE, plan.content_type)
            .body(Full::new(payload.body.clone()))
            .expect("valid request");
        let start = Instant::now();
        let result = tokio::time::timeout(plan.request_timeout, async {
            s.ready().await?;
            let resp = s.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        })
        .await;
        let end = Instant::now();
        match result {
            Ok(Ok((status, body))) => {
                if status.is_success() {
                    out.acked_records += payload.records;
                    out.acked_bytes += payload.body.len() as u64;
                    if end >= measure_from && end <= stop_at {
                        out.ok += 1;
                        out.ok_bytes += payload.body.len() as u64;
                        let us = end.duration_since(start).as_micros().max(1) as u64;
                        out.latency_us.saturating_record(us);
                    }
                } else if status.as_u16() == 503 {
                    out.unavailable += 1;
                    // Retry-After says seconds; the bench is time-bounded, so back off briefly.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                } else {
                    out.bad_status += 1;
                    out.error(|| {
                        format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)]).trim()
                        )
                    });
                }
            }
            Ok(Err(e)) => {
                out.transport_errors += 1;
                out.unknown_records += payload.records;
                out.error(|| format!("request failed: {e}"));
                sender = None;
            }
            Err(_) => {
                out.transport_errors += 1;
                out.unknown_records += payload.records;
                out.error(|| format!("no answer within {:?}", plan.request_timeout));
                sender = None;
            }
        }
    }
    out
}
