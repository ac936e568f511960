//! `snowstream-bench chaos`: faults under load against a real `snowstream serve` child that
//! lands in an in-process S3 (s3s-fs, `testkit::TestS3`), then a count of what landed.
//!
//! Phases (each with its own id range, so each is counted alone):
//! - `kill`: kill -9 cycles of the child under load, restarted on the same data directory;
//! - `s3-outage`: the S3 server stopped and restarted on the same address under load;
//! - `disk-full`: RLIMIT_FSIZE lowered on the running child (prlimit), then lifted: its
//!   spool writes fail part-way as on a full disk and must answer 503, never lose or repeat.
//!
//! Clients post NDJSON with unique ids. A 2xx acknowledges the ids; a 503 means nothing was
//! kept, so the client retries the same ids (a record landing twice is a duplicate); a
//! connection error (child killed) leaves the outcome unknown, so those ids are dropped, not
//! retried (at-least-once delivery of unacknowledged data is not a duplicate). At the end of
//! a phase the child is stopped with SIGTERM (it lands its spool) and the landed files are
//! read back. Exits non-zero unless every phase has 0 lost and 0 duplicated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, ServerProcess, TestS3, faults};

const BUCKET: &str = "landing";
/// Requests per client per phase, at most (bounds every load loop).
const MAX_REQUESTS_PER_CLIENT: u64 = 100_000;
/// Ids of phase `p` are `p * PHASE_IDS ..`; of client `c` in it, `+ c * CLIENT_IDS ..`.
const PHASE_IDS: u64 = 1 << 40;
const CLIENT_IDS: u64 = 1 << 32;
/// File size cap during the disk-full episode: a few requests fit in a segment, then not.
const DISK_FULL_FSIZE: u64 = 8 << 10;
/// `RLIM_INFINITY` on Linux: no limit.
const RLIM_INFINITY: u64 = u64::MAX;

/// Arguments of `snowstream-bench chaos`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// CI mode: 2 kill cycles, a 5 s S3 outage and a 3 s disk-full episode (else 10 cycles,
    /// 60 s and 20 s).
    #[arg(long)]
    pub short: bool,
    /// The snowstream binary to run (default: `snowstream` next to this executable).
    #[arg(long)]
    pub snowstream_bin: Option<PathBuf>,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: u64,
    /// Records per request.
    #[arg(long, default_value_t = 20)]
    pub records_per_request: u64,
    /// Phases to run (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,s3-outage,disk-full"
    )]
    pub phases: Vec<Phase>,
}

/// One fault episode of the chaos run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Kill,
    S3Outage,
    DiskFull,
}

/// What one phase did and what landed.
#[derive(Debug, Default)]
struct Counts {
    acknowledged: u64,
    landed: u64,
    lost: u64,
    duplicated: u64,
    refused: u64,
    unknown: u64,
}

/// Runs the chaos phases; false when a phase lost or duplicated a record.
pub fn run(args: ChaosArgs) -> Result<bool> {
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
    // The child inherits the ignored SIGXFSZ: past RLIMIT_FSIZE its writes fail with EFBIG.
    faults::ignore_file_size_signal();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_phases(args, bin))
}

async fn run_phases(args: ChaosArgs, bin: PathBuf) -> Result<bool> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join(BUCKET))?;
    let mut s3 = TestS3::start(&store, "127.0.0.1:0".parse()?).await;
    let child = Child {
        bin,
        port: testkit::free_port(),
        args: child_args(&dir.path().join("data"), &s3.endpoint()),
    };
    let mut ok = true;
    println!(
        "{:<10} {:>12} {:>10} {:>6} {:>10} {:>9} {:>8}",
        "phase", "acknowledged", "landed", "lost", "duplicated", "503s", "unknown"
    );
    for (n, phase) in args.phases.iter().enumerate() {
        let load = Load::new(&args, n as u64 + 1, child.url());
        let counts = match phase {
            Phase::Kill => kill_cycles(&args, &child, &load).await?,
            Phase::S3Outage => {
                let (counts, restarted) = s3_outage(&args, &child, &load, s3, &store).await?;
                s3 = restarted;
                counts
            }
            Phase::DiskFull => disk_full(&args, &child, &load).await?,
        };
        let counts = count_landed(&store, &load, counts);
        println!(
            "{:<10} {:>12} {:>10} {:>6} {:>10} {:>9} {:>8}",
            format!("{phase:?}"),
            counts.acknowledged,
            counts.landed,
            counts.lost,
            counts.duplicated,
            counts.refused,
            counts.unknown
        );
        ok &= counts.lost == 0 && counts.duplicated == 0 && counts.acknowledged > 0;
    }
    s3.stop().await;
    println!(
        "RESULT: {}",
        if ok {
            "ok (0 lost, 0 duplicated)"
        } else {
            "FAILED"
        }
    );
    Ok(ok)
}

fn child_args(data: &Path, endpoint: &str) -> Vec<String> {
    [
        "--data-dir",
        &data.display().to_string(),
        "--instance-id",
        "chaos-1",
        "--sink",
        "s3",
        "--s3-bucket",
        BUCKET,
        "--s3-endpoint-url",
        endpoint,
        "--s3-region",
        "us-east-1",
        "--prefix",
        "raw",
        "--spool-max-bytes",
        "32MiB",
        "--batch-max-age",
        "200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// How to start the `snowstream serve` child (same port and data directory every time).
struct Child {
    bin: PathBuf,
    port: u16,
    args: Vec<String>,
}

impl Child {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/contentListener", self.port)
    }

    async fn start(&self) -> Result<ServerProcess> {
        let (bin, port, args) = (self.bin.clone(), self.port, self.args.clone());
        let env = [
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start(&bin, port, &a, &env)
        })
        .await
        .context("starting snowstream")
    }

    /// SIGTERM: the child lands its spool before it exits.
    async fn stop(server: ServerProcess) -> Result<()> {
        let code =
            tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(180))).await?;
        if code != Some(0) {
            bail!("snowstream exited with {code:?} after SIGTERM");
        }
        Ok(())
    }
}

async fn kill_cycles(args: &ChaosArgs, child: &Child, load: &Arc<Load>) -> Result<Counts> {
    let (cycles, each) = if args.short { (2, 1) } else { (10, 3) };
    let mut server = child.start().await?;
    let clients = load.spawn();
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_secs(each)).await;
        tokio::task::spawn_blocking(move || server.kill()).await?;
        server = child.start().await?;
    }
    tokio::time::sleep(Duration::from_secs(each)).await;
    load.finish(clients).await;
    Child::stop(server).await?;
    Ok(load.counts())
}

async fn s3_outage(
    args: &ChaosArgs,
    child: &Child,
    load: &Arc<Load>,
    s3: TestS3,
    store: &Path,
) -> Result<(Counts, TestS3)> {
    let outage = Duration::from_secs(if args.short { 5 } else { 60 });
    let server = child.start().await?;
    let clients = load.spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let addr = s3.addr;
    s3.stop().await;
    tokio::time::sleep(outage).await;
    let s3 = TestS3::start(store, addr).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish(clients).await;
    Child::stop(server).await?;
    Ok((load.counts(), s3))
}

async fn disk_full(args: &ChaosArgs, child: &Child, load: &Arc<Load>) -> Result<Counts> {
    let episode = Duration::from_secs(if args.short { 3 } else { 20 });
    let server = child.start().await?;
    let clients = load.spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    faults::limit_process_file_size(server.pid(), DISK_FULL_FSIZE)?;
    tokio::time::sleep(episode).await;
    faults::limit_process_file_size(server.pid(), RLIM_INFINITY)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish(clients).await;
    Child::stop(server).await?;
    Ok(load.counts())
}

/// The clients of one phase and what they were told.
struct Load {
    phase: u64,
    clients: u64,
    records: u64,
    url: String,
    http: reqwest::Client,
    stop: AtomicBool,
    acked: Mutex<Vec<u64>>,
    refused: AtomicU64,
    unknown: AtomicU64,
}

impl Load {
    fn new(args: &ChaosArgs, phase: u64, url: String) -> Arc<Load> {
        Arc::new(Load {
            phase,
            clients: args.clients.max(1),
            records: args.records_per_request.max(1),
            url,
            http: reqwest::Client::new(),
            stop: AtomicBool::new(false),
            acked: Mutex::default(),
            refused: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
        })
    }

    fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.clients)
            .map(|c| tokio::spawn(self.clone().client(c)))
            .collect()
    }

    async fn finish(&self, clients: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::Relaxed);
        for c in clients {
            let _ = c.await;
        }
    }

    async fn client(self: Arc<Self>, c: u64) {
        let base = self.phase * PHASE_IDS + c * CLIENT_IDS;
        let mut retry: Option<u64> = None;
        for r in 0..MAX_REQUESTS_PER_CLIENT {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let first = retry.take().unwrap_or(base + r * self.records);
            let body: String = (first..first + self.records)
                .map(|id| format!("{{\"id\":{id},\"name\":\"customer {id}\"}}\n"))
                .collect();
            let resp = self
                .http
                .post(&self.url)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match resp.map(|r| r.status()) {
                Ok(s) if s.is_success() => {
                    self.acked
                        .lock()
                        .expect("lock")
                        .extend(first..first + self.records);
                }
                Ok(s) if s == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    // Nothing was kept: the same records again, after a pause.
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    retry = Some(first);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // Killed mid-request or another status: outcome unknown, not retried.
                _ => {
                    self.unknown.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn counts(&self) -> Counts {
        Counts {
            acknowledged: self.acked.lock().expect("lock").len() as u64,
            refused: self.refused.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            ..Counts::default()
        }
    }
}

/// Reads every landed file and counts this phase's ids against what was acknowledged.
fn count_landed(store: &Path, load: &Load, mut counts: Counts) -> Counts {
    let range = load.phase * PHASE_IDS..(load.phase + 1) * PHASE_IDS;
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for line in testkit::landed_lines(&store.join(BUCKET)) {
        if let Some(id) = line["record"]["id"]
            .as_u64()
            .filter(|id| range.contains(id))
        {
            *seen.entry(id).or_default() += 1;
        }
    }
    counts.landed = seen.len() as u64;
    counts.duplicated = seen.values().filter(|n| **n > 1).count() as u64;
    let acked = load.acked.lock().expect("lock");
    counts.lost = acked.iter().filter(|id| !seen.contains_key(id)).count() as u64;
    counts
}
