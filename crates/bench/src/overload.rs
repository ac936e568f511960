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
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use testkit::s3_child::{OutageS3, start_child};

use crate::clients::{Load, Policy, block_on, snowstream_bin, stop_child};
use crate::proc;

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
    let bin = snowstream_bin(args.snowstream_bin.as_deref())?;
    block_on(overload(args, bin))
}

async fn overload(args: OverloadArgs, bin: PathBuf) -> Result<bool> {
    let (spool, window) = if args.short {
        ("256MiB", Duration::from_secs(15))
    } else {
        ("1GiB", Duration::from_secs(60))
    };
    let dir = tempfile::tempdir()?;
    let mut s3 = OutageS3::start(&dir.path().join("store"), BUCKET).await;
    let port = testkit::free_port();
    let child_args = s3.child_args(
        &dir.path().join("data"),
        "overload-1",
        &[
            "--spool-max-bytes",
            spool,
            // SIGTERM lands the whole full spool, however long that takes here.
            "--shutdown-timeout",
            "15m",
        ],
    );
    let server = start_child(&bin, port, &child_args)
        .await
        .context("starting snowstream")?;
    s3.stop().await;
    println!(
        "overload: sink (S3) down, spool limit {spool}, {} bulk clients (1 MiB NDJSON) and {} \
         single-record clients for {window:?}",
        args.bulk_clients, args.single_clients
    );

    let pad = "p".repeat(PAD);
    let load = Load::new(
        format!("http://127.0.0.1:{port}/contentListener"),
        Policy {
            max_requests: MAX_REQUESTS_PER_CLIENT,
            until: Some(Instant::now() + window),
            timeout: Duration::from_secs(30),
            // Back off a little, as Retry-After asks (bounded by the window). A 503 keeps
            // nothing, so its ids are dropped (not retried: the scenario wants the overload).
            refused_pause: Duration::from_millis(50),
            retry_refused: false,
            // Outcome unknown (timeout, reset): stop this client; its ids are not
            // acknowledged, and landing them would not be a duplicate.
            unknown_pause: None,
        },
        move |id| format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n"),
        (0..args.bulk_clients + args.single_clients).map(|c| {
            let per_request = if c < args.bulk_clients { 2_300 } else { 1 };
            (c * CLIENT_IDS, per_request)
        }),
    );
    load.spawn();
    load.join().await;
    let peak = peak_rss(server.pid())?;
    let acked = std::mem::take(&mut *load.acked());
    let refused = load.refused();
    let failed = load.unknown();
    println!(
        "overload: {} records acknowledged, {refused} requests refused (503), {failed} failed \
         otherwise; child peak RSS {} MiB (goal ≤ {} MiB): {}",
        acked.len(),
        peak >> 20,
        GOAL_RSS >> 20,
        if peak <= GOAL_RSS { "met" } else { "NOT met" }
    );

    // The sink comes back; SIGTERM lands the spool before the child exits.
    s3.restart().await;
    let started = Instant::now();
    stop_child(server, Duration::from_secs(1000)).await?;
    s3.stop().await;
    let landing_secs = started.elapsed().as_secs_f64();
    let unknown = std::mem::take(&mut *load.unknown_ids());
    let (landed, twice, lost, unacked) = count_landed(&s3.bucket_dir(), &acked, &unknown);
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
    proc::peak_rss_of(pid).context("VmHWM in /proc/PID/status")
}

/// Landed ids, read file by file: (distinct landed, landed more than once, acknowledged but
/// not landed, landed but neither acknowledged nor of an unanswered request).
pub(crate) fn count_landed(
    bucket: &std::path::Path,
    acked: &[u64],
    unknown: &[u64],
) -> (u64, u64, u64, u64) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for file in testkit::landed_files(bucket) {
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
