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
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use testkit::s3_child::{OutageS3, start_child};
use testkit::{ServerProcess, faults};

use crate::clients::{Load, Policy, block_on, snowstream_bin, stop_child};

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
    let bin = snowstream_bin(args.snowstream_bin.as_deref())?;
    // The child inherits the ignored SIGXFSZ: past RLIMIT_FSIZE its writes fail with EFBIG.
    faults::ignore_file_size_signal();
    block_on(run_phases(args, bin))
}

async fn run_phases(args: ChaosArgs, bin: PathBuf) -> Result<bool> {
    let dir = tempfile::tempdir()?;
    let mut s3 = OutageS3::start(&dir.path().join("store"), BUCKET).await;
    let child = Child {
        bin,
        port: testkit::free_port(),
        args: s3.child_args(
            &dir.path().join("data"),
            "chaos-1",
            &[
                "--prefix",
                "raw",
                "--spool-max-bytes",
                "32MiB",
                "--batch-max-age",
                "200ms",
            ],
        ),
    };
    let mut ok = true;
    println!(
        "{:<10} {:>12} {:>10} {:>6} {:>10} {:>9} {:>8}",
        "phase", "acknowledged", "landed", "lost", "duplicated", "503s", "unknown"
    );
    for (n, phase) in args.phases.iter().enumerate() {
        let phase_no = n as u64 + 1;
        let load = phase_load(&args, phase_no, child.url());
        match phase {
            Phase::Kill => kill_cycles(&args, &child, &load).await?,
            Phase::S3Outage => s3_outage(&args, &child, &load, &mut s3).await?,
            Phase::DiskFull => disk_full(&args, &child, &load).await?,
        }
        let counts = count_landed(&s3.bucket_dir(), phase_no, &load);
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
        start_child(&self.bin, self.port, &self.args)
            .await
            .context("starting snowstream")
    }

    /// SIGTERM: the child lands its spool before it exits.
    async fn stop(server: ServerProcess) -> Result<()> {
        stop_child(server, Duration::from_secs(180)).await
    }
}

/// The clients of phase `phase`: ids `phase * PHASE_IDS + c * CLIENT_IDS ..` for client `c`.
/// A 503 kept nothing: the same records again, after a pause. Killed mid-request or another
/// status: outcome unknown, not retried.
fn phase_load(args: &ChaosArgs, phase: u64, url: String) -> Arc<Load> {
    let records = args.records_per_request.max(1);
    Load::new(
        url,
        Policy {
            max_requests: MAX_REQUESTS_PER_CLIENT,
            until: None,
            timeout: Duration::from_secs(10),
            refused_pause: Duration::from_millis(200),
            retry_refused: true,
            unknown_pause: Some(Duration::from_millis(100)),
        },
        |id| format!("{{\"id\":{id},\"name\":\"customer {id}\"}}\n"),
        (0..args.clients.max(1)).map(|c| (phase * PHASE_IDS + c * CLIENT_IDS, records)),
    )
}

async fn kill_cycles(args: &ChaosArgs, child: &Child, load: &Arc<Load>) -> Result<()> {
    let (cycles, each) = if args.short { (2, 1) } else { (10, 3) };
    let mut server = child.start().await?;
    load.spawn();
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_secs(each)).await;
        tokio::task::spawn_blocking(move || server.kill()).await?;
        server = child.start().await?;
    }
    tokio::time::sleep(Duration::from_secs(each)).await;
    load.finish().await;
    Child::stop(server).await
}

async fn s3_outage(
    args: &ChaosArgs,
    child: &Child,
    load: &Arc<Load>,
    s3: &mut OutageS3,
) -> Result<()> {
    let outage = Duration::from_secs(if args.short { 5 } else { 60 });
    let server = child.start().await?;
    load.spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    s3.stop().await;
    tokio::time::sleep(outage).await;
    s3.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish().await;
    Child::stop(server).await
}

async fn disk_full(args: &ChaosArgs, child: &Child, load: &Arc<Load>) -> Result<()> {
    let episode = Duration::from_secs(if args.short { 3 } else { 20 });
    let server = child.start().await?;
    load.spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    faults::limit_process_file_size(server.pid(), DISK_FULL_FSIZE)?;
    tokio::time::sleep(episode).await;
    faults::limit_process_file_size(server.pid(), RLIM_INFINITY)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish().await;
    Child::stop(server).await
}

/// Reads every landed file and counts this phase's ids against what was acknowledged.
fn count_landed(bucket: &Path, phase: u64, load: &Load) -> Counts {
    let range = phase * PHASE_IDS..(phase + 1) * PHASE_IDS;
    let mut counts = Counts {
        acknowledged: load.acked().len() as u64,
        refused: load.refused(),
        unknown: load.unknown(),
        ..Counts::default()
    };
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for line in testkit::landed_lines(bucket) {
        if let Some(id) = line["record"]["id"]
            .as_u64()
            .filter(|id| range.contains(id))
        {
            *seen.entry(id).or_default() += 1;
        }
    }
    counts.landed = seen.len() as u64;
    counts.duplicated = seen.values().filter(|n| **n > 1).count() as u64;
    let acked = load.acked();
    counts.lost = acked.iter().filter(|id| !seen.contains_key(id)).count() as u64;
    counts
}
