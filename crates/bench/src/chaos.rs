//! `snowstream-bench chaos`: faults under load against real `snowstream serve` children that
//! land in an in-process S3 (s3s-fs, `testkit::TestS3`) or, in one variant of `shared`, a
//! local folder, then a count of what landed.
//!
//! Phases (each with its own id range, so each is counted alone):
//! - `kill`: kill -9 cycles of the child under load, restarted on the same data directory;
//! - `s3-outage`: the S3 server stopped and restarted on the same address under load;
//! - `disk-full`: RLIMIT_FSIZE lowered on the running child (prlimit), then lifted: its
//!   spool writes fail part-way as on a full disk and must answer 503, never lose or repeat;
//! - `shared`: two children on their own data directories land in one target under kill -9
//!   cycles of both: in the bucket with their default instance ids (which must differ: no
//!   key collision), then in one local folder with one `--instance-id` for both (colliding
//!   keys land under `.x{sha256}` keys of their own): two rows (module `shared`).
//!
//! Clients post NDJSON with unique ids. A 2xx acknowledges the ids; a 503 means nothing was
//! kept, so the client retries the same ids (a record landing twice is a duplicate); a
//! connection error (child killed) leaves the outcome unknown, so those ids are dropped, not
//! retried (at-least-once delivery of unacknowledged data is not a duplicate). At the end of
//! a phase the children are stopped with SIGTERM (they land their spools) and the landed
//! files are read back. Exits non-zero unless every phase has 0 lost and 0 duplicated.

mod shared;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
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
/// Most clients (the shared phase's variants have half a phase's ids, for twice the clients).
const MAX_CLIENTS: u64 = 64;
/// Flags of every child, after its data directory, instance id and S3 sink.
const CHILD_FLAGS: [&str; 6] = [
    "--prefix",
    "raw",
    "--spool-max-bytes",
    "32MiB",
    "--batch-max-age",
    "200ms",
];
/// File size cap during the disk-full episode: a few requests fit in a segment, then not.
const DISK_FULL_FSIZE: u64 = 8 << 10;
/// `RLIM_INFINITY` on Linux: no limit.
const RLIM_INFINITY: u64 = u64::MAX;

/// Arguments of `snowstream-bench chaos`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// CI mode: 2 kill cycles, a 5 s S3 outage, a 3 s disk-full episode and 2 kill cycles
    /// of both shared children per variant (else 10 cycles, 60 s, 20 s and 10 cycles).
    #[arg(long)]
    pub short: bool,
    /// The snowstream binary to run (default: `snowstream` next to this executable).
    #[arg(long)]
    pub snowstream_bin: Option<PathBuf>,
    /// Concurrent HTTP clients (per child).
    #[arg(
        long,
        default_value_t = 4,
        value_parser = clap::value_parser!(u64).range(1..=MAX_CLIENTS)
    )]
    pub clients: u64,
    /// Records per request.
    #[arg(long, default_value_t = 20)]
    pub records_per_request: u64,
    /// Phases to run (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,s3-outage,disk-full,shared"
    )]
    pub phases: Vec<Phase>,
}

/// One fault episode of the chaos run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Kill,
    S3Outage,
    DiskFull,
    Shared,
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
    /// Distinct instance ids in the landed keys (a collision key's `.x…` left out).
    instances: u64,
    /// Data files landed under a collision key (`{instance}.x{sha256 digits}`).
    collisions: u64,
}

/// One line of the table: a phase, or a variant of the shared phase, counted alone.
struct Row {
    label: String,
    counts: Counts,
    /// What went wrong besides records lost or duplicated, if anything.
    problem: Option<String>,
}

impl Row {
    fn ok(&self) -> bool {
        let c = &self.counts;
        self.problem.is_none() && c.lost == 0 && c.duplicated == 0 && c.acknowledged > 0
    }

    fn print(&self) {
        let c = &self.counts;
        println!(
            "{:<12} {:>12} {:>10} {:>6} {:>10} {:>9} {:>8} {:>9} {:>10}",
            self.label,
            c.acknowledged,
            c.landed,
            c.lost,
            c.duplicated,
            c.refused,
            c.unknown,
            c.instances,
            c.collisions
        );
        if let Some(problem) = &self.problem {
            println!("  {}: {problem}", self.label);
        }
    }
}

/// Runs the chaos phases; false when a phase lost or duplicated a record (or the shared
/// phase's instance ids did not collide as its variant says).
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
        args: s3.child_args(&dir.path().join("data"), "chaos-1", &CHILD_FLAGS),
    };
    let mut ok = true;
    println!(
        "{:<12} {:>12} {:>10} {:>6} {:>10} {:>9} {:>8} {:>9} {:>10}",
        "phase",
        "acknowledged",
        "landed",
        "lost",
        "duplicated",
        "503s",
        "unknown",
        "instances",
        "collisions"
    );
    for (n, phase) in args.phases.iter().enumerate() {
        let ids = (n as u64 + 1) * PHASE_IDS..(n as u64 + 2) * PHASE_IDS;
        let rows = match phase {
            Phase::Shared => shared::run(&args, &child.bin, &s3, dir.path(), ids).await?,
            _ => vec![one_child(&args, *phase, &child, &mut s3, ids).await?],
        };
        for row in rows {
            row.print();
            ok &= row.ok();
        }
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

/// A phase of one child (`kill`, `s3-outage`, `disk-full`), its clients' ids in `ids`.
async fn one_child(
    args: &ChaosArgs,
    phase: Phase,
    child: &Child,
    s3: &mut OutageS3,
    ids: Range<u64>,
) -> Result<Row> {
    let load = phase_load(args, ids.start, 0..args.clients, child.url());
    match phase {
        Phase::Kill => {
            kill_cycles(
                args,
                std::slice::from_ref(child),
                std::slice::from_ref(&load),
            )
            .await?
        }
        Phase::S3Outage => s3_outage(args, child, &load, s3).await?,
        Phase::DiskFull => disk_full(args, child, &load).await?,
        Phase::Shared => unreachable!("the shared phase runs two children"),
    }
    Ok(Row {
        label: format!("{phase:?}"),
        counts: count_landed(&s3.bucket_dir(), ids, &[load]),
        problem: None,
    })
}

/// The clients `clients` posting to `url`: ids `first + c * CLIENT_IDS ..` for client `c`.
/// A 503 kept nothing: the same records again, after a pause. Killed mid-request or another
/// status: outcome unknown, not retried.
fn phase_load(args: &ChaosArgs, first: u64, clients: Range<u64>, url: String) -> Arc<Load> {
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
        clients.map(|c| (first + c * CLIENT_IDS, records)),
    )
}

/// Kill -9 cycles under load: `children` start, `loads` post to them, and in every cycle each
/// child in turn is killed and restarted on its data directory, one every `each / children`
/// (so one cycle lasts `each` whatever the count), then all stop with SIGTERM together.
async fn kill_cycles(args: &ChaosArgs, children: &[Child], loads: &[Arc<Load>]) -> Result<()> {
    let (cycles, each) = if args.short { (2, 1) } else { (10, 3) };
    let each = Duration::from_secs(each);
    let mut servers = Vec::new();
    for child in children {
        servers.push(Some(child.start().await?));
    }
    loads.iter().for_each(Load::spawn);
    for _ in 0..cycles {
        for (child, server) in children.iter().zip(&mut servers) {
            tokio::time::sleep(each / children.len() as u32).await;
            let killed = server.take().expect("the child runs");
            tokio::task::spawn_blocking(move || killed.kill()).await?;
            *server = Some(child.start().await?);
        }
    }
    tokio::time::sleep(each).await;
    for load in loads {
        load.finish().await;
    }
    futures::future::try_join_all(servers.into_iter().flatten().map(Child::stop)).await?;
    Ok(())
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

/// Reads every landed file below `root` (a bucket's or landing folder) and counts the ids in
/// `ids` against what `loads` acknowledged, and the instance ids and collision keys of the
/// files holding them.
fn count_landed(root: &Path, ids: Range<u64>, loads: &[Arc<Load>]) -> Counts {
    let mut counts = Counts::default();
    let mut acked = Vec::new();
    for load in loads {
        acked.extend_from_slice(&load.acked());
        counts.refused += load.refused();
        counts.unknown += load.unknown();
    }
    counts.acknowledged = acked.len() as u64;
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut instances = HashSet::new();
    for file in testkit::landed_files(root) {
        let mut ours = false;
        for line in testkit::read_landed(&file) {
            if let Some(id) = line["record"]["id"].as_u64().filter(|id| ids.contains(id)) {
                *seen.entry(id).or_default() += 1;
                ours = true;
            }
        }
        if let Some((instance, collision)) = ours.then(|| landed_instance(root, &file)).flatten() {
            instances.insert(instance);
            counts.collisions += u64::from(collision);
        }
    }
    counts.landed = seen.len() as u64;
    counts.duplicated = seen.values().filter(|n| **n > 1).count() as u64;
    counts.lost = acked.iter().filter(|id| !seen.contains_key(id)).count() as u64;
    counts.instances = instances.len() as u64;
    counts
}

/// The instance id in the key of the landed file `file` below `root`, and whether the key is
/// a collision key (`{instance}.x{hex digits of the file's sha256}`, whose `.x…` is cut off).
fn landed_instance(root: &Path, file: &Path) -> Option<(String, bool)> {
    let key = file.strip_prefix(root).ok()?.to_str()?;
    let instance = records::landed::LandedKey::parse(key).ok()?.instance;
    match instance.rsplit_once(".x") {
        Some((own, tag)) if tag.len() >= 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some((own.to_owned(), true))
        }
        _ => Some((instance, false)),
    }
}
