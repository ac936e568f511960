//! The bounded HTTP clients of the `overload` and `chaos` scenarios, and the `snowstream`
//! child they load. Each client posts NDJSON records with fresh ids to the child's
//! ListenHTTP URL and keeps what it was told: a 2xx acknowledges the ids, a 503 keeps
//! nothing (the ids are dropped or posted again, as the scenario says), anything else
//! (timeout, reset, killed child, other status) leaves the outcome unknown, so those ids may
//! land without an ack and landing them is not a duplicate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use testkit::ServerProcess;
use tokio::task::JoinHandle;

/// The snowstream binary to run: `arg`, else `snowstream` next to this executable.
pub fn snowstream_bin(arg: Option<&Path>) -> Result<PathBuf> {
    let bin = match arg {
        Some(b) => b.to_owned(),
        None => std::env::current_exe()?.with_file_name("snowstream"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it (cargo build -p snowstream) or pass --snowstream-bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// Runs `scenario` to its end on a two-worker runtime (the clients' side of the machine).
pub fn block_on<T>(scenario: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(scenario)
}

/// SIGTERM (the child lands its spool before it exits), waiting at most `limit`; an error
/// unless it exits with 0.
pub async fn stop_child(server: ServerProcess, limit: Duration) -> Result<()> {
    let code = testkit::s3_child::terminate_child(server, limit).await?;
    if code != Some(0) {
        bail!("snowstream exited with {code:?} after SIGTERM");
    }
    Ok(())
}

/// How the clients of one run behave.
pub struct Policy {
    /// Requests per client at most (bounds every load loop, with the stop and `until`).
    pub max_requests: u64,
    /// No new request after this instant (`None`: until [`Load::finish`]).
    pub until: Option<Instant>,
    /// Each request's timeout.
    pub timeout: Duration,
    /// After a 503: this pause (Retry-After asks for one).
    pub refused_pause: Duration,
    /// After a 503: post the same ids again (else they are dropped).
    pub retry_refused: bool,
    /// After an unknown outcome: go on after this pause, or (`None`) stop the client.
    pub unknown_pause: Option<Duration>,
}

/// The clients of one run and what they were told.
pub struct Load {
    url: String,
    http: reqwest::Client,
    policy: Policy,
    /// One NDJSON line (with its newline) for a record id.
    line: Box<dyn Fn(u64) -> String + Send + Sync>,
    /// Each client's `(first id, records per request)`.
    clients: Vec<(u64, u64)>,
    stop: AtomicBool,
    acked: Mutex<Vec<u64>>,
    unknown_ids: Mutex<Vec<u64>>,
    refused: AtomicU64,
    unknown: AtomicU64,
    running: Mutex<Vec<JoinHandle<()>>>,
}

impl Load {
    /// One client per `(first id, records per request)` of `clients` for `url` (nothing runs
    /// until [`Load::spawn`]): request `r` of a client posts ids `first + r * per_request ..`,
    /// each record's line made by `line`.
    pub fn new(
        url: String,
        policy: Policy,
        line: impl Fn(u64) -> String + Send + Sync + 'static,
        clients: impl IntoIterator<Item = (u64, u64)>,
    ) -> Arc<Load> {
        Arc::new(Load {
            url,
            http: reqwest::Client::new(),
            policy,
            line: Box::new(line),
            clients: clients.into_iter().collect(),
            stop: AtomicBool::new(false),
            acked: Mutex::default(),
            unknown_ids: Mutex::default(),
            refused: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            running: Mutex::default(),
        })
    }

    /// Starts the clients.
    pub fn spawn(self: &Arc<Self>) {
        let mut running = self.running.lock().expect("lock");
        for &(first, per_request) in &self.clients {
            running.push(tokio::spawn(self.clone().client(first, per_request)));
        }
    }

    /// Waits until every client is done (by `until`, its request bound or its own stop).
    pub async fn join(&self) {
        let clients = std::mem::take(&mut *self.running.lock().expect("lock"));
        for c in clients {
            let _ = c.await;
        }
    }

    /// Stops the clients (each after its request in flight) and waits for them.
    pub async fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.join().await;
    }

    /// The acknowledged ids.
    pub fn acked(&self) -> MutexGuard<'_, Vec<u64>> {
        self.acked.lock().expect("lock")
    }

    /// Ids of requests whose outcome is unknown (they may land without an ack).
    pub fn unknown_ids(&self) -> MutexGuard<'_, Vec<u64>> {
        self.unknown_ids.lock().expect("lock")
    }

    /// Requests refused with 503.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Requests whose outcome is unknown.
    pub fn unknown(&self) -> u64 {
        self.unknown.load(Ordering::Relaxed)
    }

    async fn client(self: Arc<Self>, base: u64, per_request: u64) {
        let p = &self.policy;
        let mut retry: Option<u64> = None;
        for r in 0..p.max_requests {
            if self.stop.load(Ordering::Relaxed) || p.until.is_some_and(|t| Instant::now() >= t) {
                break;
            }
            let first = retry.take().unwrap_or(base + r * per_request);
            let ids = first..first + per_request;
            let body: String = ids.clone().map(&self.line).collect();
            let resp = self
                .http
                .post(&self.url)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .timeout(p.timeout)
                .send()
                .await;
            match resp.map(|r| r.status()) {
                Ok(s) if s.is_success() => self.acked().extend(ids),
                Ok(s) if s == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    if p.retry_refused {
                        retry = Some(first);
                    }
                    tokio::time::sleep(p.refused_pause).await;
                }
                _ => {
                    self.unknown.fetch_add(1, Ordering::Relaxed);
                    self.unknown_ids().extend(ids);
                    match p.unknown_pause {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => break,
                    }
                }
            }
        }
    }
}
