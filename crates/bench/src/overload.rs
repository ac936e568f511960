//! `snowstream-bench overload` (issue 14, "RSS ≤ 256 MiB under sustained overload with the
//! sink down"): a real `snowstream serve` child, started as shipped, lands in an in-process S3
//! (s3s-fs, `testkit::TestS3`) that is stopped right after start, so nothing can land. Clients
//! push 1 MiB NDJSON bodies and single records beyond capacity for a bounded time, until the
//! spool is full and 503s come. The child's peak RSS (`VmHWM` of /proc/PID/status, proc(5))
//! is printed against the 256 MiB goal, with the 503 count. Then the S3 comes back on the same
//! address, the child is stopped with SIGTERM (it lands its spool) and the landed files are
//! read back: every acknowledged record must have landed exactly once, and nothing refused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, ServerProcess, TestS3};

const BUCKET: &str = "landing";
/// The goal of issue 14.
const GOAL_RSS: u64 = 256 << 20;
/// Requests per client at most (bounds every load loop, with the time limit).
const MAX_REQUESTS_PER_CLIENT: u64 = 1_000_000;
/// Ids of client `c` are `c * CLIENT_IDS ..`.
const CLIENT_IDS: u64 = 1 << 32;
/// Each record's padding: ~500-byte records, so a full spool is a few million ids to check.
const PAD: usize = 440;

/// Arguments of `snowstream-bench overload`.
#[derive(clap::Args, Debug, Clone)]
pub struct OverloadArgs {
    /// CI mode: 256 MiB spool and 15 s of load (else the default 1 GiB spool and 60 s).
    #[arg(long)]
    pub short: bool,
    /// The snowstream binary to run (default: `snowstream` next to this executable).
    #[arg(long)]
    pub snowstream_bin: Option<PathBuf>,
    /// Clients posting 1 MiB NDJSON bodies.
    #[arg(long, default_value_t = 4)]
    pub bulk_clients: u64,
    /// Clients posting one record per request.
    #[arg(long, default_value_t = 16)]
    pub single_clients: u64,
}

/// Runs the scenario; false when its goal or exactly-once check failed.
pub fn run(args: OverloadArgs) -> Result<bool> {
    let bin = match &args.snowstream_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("snowstream"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it (cargo build -p snowstream) or pass --snowstream-bin",
            bin.display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(overload(args, bin))
}

async fn overload(args: OverloadArgs, bin: PathBuf) -> Result<bool> {
    let (spool, window) = if args.short {
        ("256MiB", Duration::from_secs(15))
    } else {
        ("1GiB", Duration::from_secs(60))
    };
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join(BUCKET))?;
    let s3 = TestS3::start(&store, "127.0.0.1:0".parse()?).await;
    let port = testkit::free_port();
    let data = dir.path().join("data").display().to_string();
    let endpoint = s3.endpoint();
    let child_args = [
        "--data-dir",
        &data,
        "--instance-id",
        "overload-1",
        "--sink",
        "s3",
        "--s3-bucket",
        BUCKET,
        "--s3-endpoint-url",
        &endpoint,
        "--s3-region",
        "us-east-1",
        "--spool-max-bytes",
        spool,
        // SIGTERM lands the whole full spool, however long that takes here.
        "--shutdown-timeout",
        "15m",
    ]
    .map(str::to_owned);
    let server = tokio::task::spawn_blocking(move || {
        let env = [
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        let a: Vec<&str> = child_args.iter().map(String::as_str).collect();
        ServerProcess::start(&bin, port, &a, &env)
    })
    .await
    .context("starting snowstream")?;
    let addr = s3.addr;
    s3.stop().await;
    println!(
        "overload: sink (S3) down, spool limit {spool}, {} bulk clients (1 MiB NDJSON) and {} \
         single-record clients for {window:?}",
        args.bulk_clients, args.single_clients
    );

    let load = Arc::new(Load {
        url: format!("http://127.0.0.1:{port}/contentListener"),
        http: reqwest::Client::new(),
        until: Instant::now() + window,
        stop: AtomicBool::new(false),
        acked: Mutex::default(),
        unknown: Mutex::default(),
        refused: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let mut clients = Vec::new();
    for c in 0..args.bulk_clients + args.single_clients {
        let per_request = if c < args.bulk_clients { 2_300 } else { 1 };
        clients.push(tokio::spawn(load.clone().client(c, per_request)));
    }
    for c in clients {
        let _ = c.await;
    }
    let peak = peak_rss(server.pid())?;
    let acked = std::mem::take(&mut *load.acked.lock().expect("lock"));
    let refused = load.refused.load(Ordering::Relaxed);
    let failed = load.failed.load(Ordering::Relaxed);
    println!(
        "overload: {} records acknowledged, {refused} requests refused (503), {failed} failed \
         otherwise; child peak RSS {} MiB (goal ≤ {} MiB): {}",
        acked.len(),
        peak >> 20,
        GOAL_RSS >> 20,
        if peak <= GOAL_RSS { "met" } else { "NOT met" }
    );

    // The sink comes back; SIGTERM lands the spool before the child exits.
    let s3 = TestS3::start(&store, addr).await;
    let started = Instant::now();
    let code =
        tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(1000))).await?;
    if code != Some(0) {
        bail!("snowstream exited with {code:?} after SIGTERM");
    }
    s3.stop().await;
    let landing_secs = started.elapsed().as_secs_f64();
    let unknown = std::mem::take(&mut *load.unknown.lock().expect("lock"));
    let (landed, twice, lost, unacked) = count_landed(&store, &acked, &unknown);
    println!(
        "overload: after the sink came back ({landing_secs:.1} s to land and stop): {landed} \
         landed, {lost} lost, {twice} landed twice, {unacked} landed without an ack"
    );
    let ok = peak <= GOAL_RSS
        && refused > 0
        && lost == 0
        && twice == 0
        && unacked == 0
        && !acked.is_empty();
    println!("RESULT: {}", if ok { "ok" } else { "FAILED" });
    Ok(ok)
}

/// The child's peak resident set, in bytes.
fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb << 10)
        .context("VmHWM in /proc/PID/status")
}

/// Landed ids, read file by file: (distinct landed, landed more than once, acknowledged but
/// not landed, landed but neither acknowledged nor of an unanswered request).
fn count_landed(store: &std::path::Path, acked: &[u64], unknown: &[u64]) -> (u64, u64, u64, u64) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for file in testkit::landed_files(&store.join(BUCKET)) {
        for line in testkit::read_landed(&file) {
            if let Some(id) = line["record"]["id"].as_u64() {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    let twice = seen.values().filter(|n| **n > 1).count() as u64;
    let lost = acked.iter().filter(|id| !seen.contains_key(id)).count() as u64;
    let known: std::collections::HashSet<u64> = acked.iter().chain(unknown).copied().collect();
    let unacked = seen.keys().filter(|id| !known.contains(id)).count() as u64;
    (seen.len() as u64, twice, lost, unacked)
}

/// The clients and what they were told.
struct Load {
    url: String,
    http: reqwest::Client,
    until: Instant,
    stop: AtomicBool,
    acked: Mutex<Vec<u64>>,
    /// Ids of requests whose outcome is unknown (may land without an ack).
    unknown: Mutex<Vec<u64>>,
    refused: AtomicU64,
    failed: AtomicU64,
}

impl Load {
    /// Posts `per_request` records a request with fresh ids until the window ends. A 503 keeps
    /// nothing, so its ids are dropped (not retried: the scenario wants the overload).
    async fn client(self: Arc<Self>, c: u64, per_request: u64) {
        let pad = "p".repeat(PAD);
        let base = c * CLIENT_IDS;
        for r in 0..MAX_REQUESTS_PER_CLIENT {
            if Instant::now() >= self.until || self.stop.load(Ordering::Relaxed) {
                break;
            }
            let first = base + r * per_request;
            let ids = first..first + per_request;
            let body: String = ids
                .clone()
                .map(|id| format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n"))
                .collect();
            let resp = self
                .http
                .post(&self.url)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match resp.map(|r| r.status()) {
                Ok(s) if s.is_success() => self.acked.lock().expect("lock").extend(ids),
                Ok(s) if s.as_u16() == 503 => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    // Back off a little, as Retry-After asks (bounded by the window).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => {
                    // Outcome unknown (timeout, reset): stop this client; its ids are not
                    // acknowledged, and landing them would not be a duplicate.
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    self.unknown.lock().expect("lock").extend(ids);
                    break;
                }
            }
        }
    }
}
