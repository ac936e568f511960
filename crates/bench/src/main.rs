//! snowstream-bench: how fast the real receiver acknowledges records, next to a bare axum
//! handler that only reads and drops bodies, in one process on 127.0.0.1.
//!
//! Both targets run in a "server" tokio runtime; the load generator runs in its own
//! runtime, so CPU time can be attributed per thread group. All of it shares the machine's
//! cores. Four scenarios per target: single-record JSON POSTs over many keep-alive
//! connections, 1 MiB NDJSON bodies over a few, and through the S3 front door (against a
//! bare S3 handler) ~1 KiB PutObjects and 3-part multipart uploads. At the end the landing spool is
//! flushed and every landed file is read back: the landed record count must equal the
//! acknowledged count, or the run fails.

mod load;
mod proc;
mod report;
mod s3load;
mod targets;
mod verify;
mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use landing::{AckMode, Compression};

use crate::load::Plan;
use crate::report::Row;

#[derive(Parser, Debug)]
#[command(
    name = "snowstream-bench",
    about = "Benchmark snowstream's ListenHTTP receiver (durable acks, zstd landing) against a bare axum handler, on 127.0.0.1"
)]
struct Cli {
    /// Measured window per target and scenario (e.g. 10s, 500ms, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up before each measured window (not counted in rates or latencies).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Keep-alive connections for the single-record scenario.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Keep-alive connections for the bulk scenario.
    #[arg(long, default_value_t = 4)]
    bulk_connections: usize,
    /// Bulk body size (bytes; K/KiB/M/MiB/G/GiB suffixes are binary).
    #[arg(long, default_value = "1MiB", value_parser = parse_bytes)]
    body_size: u64,
    /// Distinct bulk bodies to cycle through.
    #[arg(long, default_value_t = 16)]
    bulk_bodies: usize,
    /// Concurrent PutObject tasks (sharing one aws-sdk-s3 client) for s3-small.
    #[arg(long, default_value_t = 32)]
    s3_tasks: usize,
    /// Size of the small NDJSON objects of s3-small.
    #[arg(long, default_value = "1KiB", value_parser = parse_bytes)]
    s3_object_size: u64,
    /// Concurrent multipart uploads for s3-multipart (each sends its parts one after another).
    #[arg(long, default_value_t = 2)]
    s3_uploads: usize,
    /// Part size of s3-multipart (whole NDJSON lines, up to this size).
    #[arg(long, default_value = "8MiB", value_parser = parse_bytes)]
    part_size: u64,
    /// Parts per multipart upload.
    #[arg(long, default_value_t = 3)]
    parts: usize,
    /// Scenarios to run: single, bulk, s3-small, s3-multipart (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "single,bulk,s3-small,s3-multipart"
    )]
    scenarios: Vec<Scenario>,
    /// Targets to run: bare, snowstream (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "bare,snowstream")]
    targets: Vec<Target>,
    /// Ack mode of the receiver: durable (fsync'd spool), received or landed.
    #[arg(long, default_value = "durable")]
    ack: AckMode,
    /// Landed-file compression: zstd[:level] or gzip[:level].
    #[arg(long, default_value = "zstd")]
    compression: Compression,
    /// Spool limit; above it the receiver answers 503 (counted, not fatal).
    #[arg(long, default_value = "4GiB", value_parser = parse_bytes)]
    spool_max_bytes: u64,
    /// Worker threads of the server runtime (default: one per core).
    #[arg(long)]
    server_threads: Option<usize>,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// A request not answered within this counts as an error (outcome unknown).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Where to put the spool and landing folders (a temp dir inside it; default: $TMPDIR).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Keep the spool and landed files after the run (prints where).
    #[arg(long)]
    keep: bool,
    /// Seed of the customer record generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Single,
    Bulk,
    S3Small,
    S3Multipart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    Bare,
    Snowstream,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (examples: 10s, 500ms, 1m)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "m" | "min" => n * 60.0,
        u => return Err(format!("unknown duration unit {u:?} in {s:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?} (examples: 1048576, 1MiB, 4GiB)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        u => return Err(format!("unknown size unit {u:?} in {s:?} (KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let ok = run(cli)?;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// Runs the benchmark; false when the run failed its correctness checks.
fn run(cli: Cli) -> Result<bool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_threads = cli.server_threads.unwrap_or(cores).max(1);
    println!(
        "snowstream-bench: {cores} CPU cores. The load generator ({} threads), the snowstream \
         receiver and the bare handler ({server_threads} worker threads) all run in this one \
         process and SHARE these cores: absolute figures are lower than on a dedicated server.",
        cli.client_threads
    );
    println!(
        "receiver: ack={:?}, compression={}, spool limit {}; warm-up {:?}, window {:?} per row",
        cli.ack,
        cli.compression.name(),
        report::mib(cli.spool_max_bytes),
        cli.warmup,
        cli.duration
    );

    let built = Instant::now();
    let work = workload::build(cli.seed, 20_000, cli.bulk_bodies, cli.body_size as usize);
    let bulk_records: u64 = work.bulk.iter().map(|p| p.records).sum();
    println!(
        "workload: contract-2 customer records, mean {:.0} bytes; {} single-record bodies; {} bulk \
         bodies of ~{} bytes ({:.0} records each); built in {:.1} s",
        work.mean_record_bytes,
        work.singles.len(),
        work.bulk.len(),
        cli.body_size,
        bulk_records as f64 / work.bulk.len().max(1) as f64,
        built.elapsed().as_secs_f64()
    );

    // Worker threads are the first `server_threads` the runtime starts; later ones are its
    // blocking pool. Names let the CPU breakdown tell them apart.
    let spawned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name_fn(move || {
            let n = spawned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < server_threads {
                format!("srv-w{n}")
            } else {
                "srv-blk".into()
            }
        })
        .enable_all()
        .build()
        .context("building the server runtime")?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .thread_name("load-rt")
        .enable_all()
        .build()
        .context("building the load generator runtime")?;

    let mut tmp = tempfile::Builder::new();
    tmp.prefix("snowstream-bench-").disable_cleanup(cli.keep);
    let dir = match &cli.dir {
        Some(d) => tmp.tempdir_in(d),
        None => tmp.tempdir(),
    }
    .context("creating the bench directory")?;

    let settings = targets::LandingSettings {
        ack: cli.ack,
        compression: cli.compression,
        spool_max_bytes: cli.spool_max_bytes,
    };
    let (snow, bare_addr, bare_s3) = server_rt.block_on(async {
        let snow = targets::start_snowstream(dir.path(), &settings).await?;
        let bare = targets::start_bare().await?;
        let bare_s3 = targets::start_bare_s3().await?;
        anyhow::Ok((snow, bare, bare_s3))
    })?;
    println!(
        "S3: snowstream's front door on http://{} (bucket {:?} -> stream {:?}, path-style, \
         SigV4), bare S3 handler on http://{bare_s3}",
        snow.s3_addr,
        s3load::BUCKET,
        targets::STREAM
    );
    println!(
        "snowstream on http://{}{} (spool and landing under {}), bare handler on http://{}{}",
        snow.addr,
        targets::PATH,
        dir.path().display(),
        bare_addr,
        targets::PATH
    );

    let singles = Arc::new(work.singles);
    let bulk = Arc::new(work.bulk);
    let s3_work = workload::build_s3(
        cli.seed,
        cli.scenarios.contains(&Scenario::S3Small),
        cli.s3_object_size as usize,
        cli.scenarios.contains(&Scenario::S3Multipart),
        cli.parts.max(1),
        cli.part_size as usize,
    );
    if !s3_work.small.is_empty() || !s3_work.uploads.is_empty() {
        println!("{}", s3_work.describe());
    }
    let small = Arc::new(s3_work.small);
    let uploads = Arc::new(s3_work.uploads);
    let mut rows = Vec::new();
    let mut acked = 0u64;
    let mut unknown = 0u64;
    for &scenario in &cli.scenarios {
        for &target in &cli.targets {
            let tname = match target {
                Target::Bare => "bare",
                Target::Snowstream => "snowstream",
            };
            let http = |payloads: &Arc<Vec<workload::Payload>>, content_type, connections| {
                Load::Http(Plan {
                    addr: match target {
                        Target::Bare => bare_addr,
                        Target::Snowstream => snow.addr,
                    },
                    path: targets::PATH,
                    content_type,
                    payloads: payloads.clone(),
                    connections,
                    warmup: cli.warmup,
                    duration: cli.duration,
                    request_timeout: cli.request_timeout,
                })
            };
            let s3_plan = |work, tasks| {
                Load::S3(s3load::S3Plan {
                    endpoint: format!(
                        "http://{}",
                        match target {
                            Target::Bare => bare_s3,
                            Target::Snowstream => snow.s3_addr,
                        }
                    ),
                    work,
                    tasks,
                    warmup: cli.warmup,
                    duration: cli.duration,
                    request_timeout: cli.request_timeout,
                })
            };
            let (job, connections, name) = match scenario {
                Scenario::Single => (
                    http(&singles, "application/json", cli.connections),
                    cli.connections,
                    "single",
                ),
                Scenario::Bulk => (
                    http(&bulk, "application/x-ndjson", cli.bulk_connections),
                    cli.bulk_connections,
                    "bulk",
                ),
                Scenario::S3Small => (
                    s3_plan(s3load::Work::Small(small.clone()), cli.s3_tasks),
                    cli.s3_tasks,
                    "s3-small",
                ),
                Scenario::S3Multipart => (
                    s3_plan(s3load::Work::Multipart(uploads.clone()), cli.s3_uploads),
                    cli.s3_uploads,
                    "s3-multipart",
                ),
            };
            eprintln!("running {tname} {name} ({connections} connections or S3 tasks)...");
            let can_reset = proc::reset_peak();
            // Sample CPU exactly at the start and end of the measured window.
            let (warmup, window) = (cli.warmup, cli.duration);
            let sampler = std::thread::spawn(move || {
                std::thread::sleep(warmup);
                let a = proc::cpu_sample();
                std::thread::sleep(window);
                (a, proc::cpu_sample())
            });
            let row_start = Instant::now();
            let outcome = match &job {
                Load::Http(plan) => client_rt.block_on(load::run(plan)),
                Load::S3(plan) => client_rt.block_on(s3load::run(plan)),
            };
            let (before, after) = sampler.join().expect("sampler thread");
            let peak_rss = if can_reset { proc::memory().0 } else { None };
            let mut flush_secs = None;
            if target == Target::Snowstream {
                acked += outcome.acked_records;
                unknown += outcome.unknown_records;
                let t = Instant::now();
                server_rt.block_on(snow.landing.flush());
                flush_secs = Some(t.elapsed().as_secs_f64());
            }
            rows.push(Row {
                target: tname,
                scenario: name,
                connections,
                outcome,
                cpu: proc::cpu_between(&before, &after),
                peak_rss,
                flush_secs,
                row_secs: row_start.elapsed().as_secs_f64(),
            });
        }
    }

    println!();
    report::table(&rows);
    println!(
        "req/s and MB/s count 2xx responses completed in the window; MB = 10^6 bytes of request \
         body; p50/p99/max = request start to whole 2xx response (ack latency)."
    );
    println!();
    let mut passed_correctness = true;
    for r in &rows {
        if let Some(e) = &r.outcome.first_error {
            println!("{} {}: first error: {e}", r.target, r.scenario);
        }
        if r.outcome.bad_status > 0 {
            passed_correctness = false;
        }
    }
    targets_check(&rows);
    println!();
    report::cpu(&rows);

    // What landed, against what was acknowledged.
    println!();
    let t = Instant::now();
    server_rt.block_on(snow.landing.flush());
    let flush = t.elapsed();
    let t = Instant::now();
    let landed = verify::scan(&dir.path().join("landing"), cores)?;
    println!(
        "landed (after landing.flush(), {:.2} s): {} files, {} records (manifests), {} lines read \
         back in {:.1} s; {} uncompressed -> {} {} ({:.1}x)",
        flush.as_secs_f64(),
        landed.files,
        landed.manifest_records,
        landed.lines,
        t.elapsed().as_secs_f64(),
        report::mib(landed.uncompressed_bytes),
        report::mib(landed.compressed_bytes),
        cli.compression.name(),
        landed.uncompressed_bytes as f64 / landed.compressed_bytes.max(1) as f64
    );
    println!(
        "acknowledged by snowstream (2xx, warm-up included): {acked} records{}",
        if unknown > 0 {
            format!("; {unknown} more in requests with unknown outcome (timeouts)")
        } else {
            String::new()
        }
    );
    for p in &landed.problems {
        println!("PROBLEM: {p}");
    }
    let counts_ok = landed.lines == landed.manifest_records
        && landed.lines >= acked
        && landed.lines <= acked + unknown;
    if counts_ok && landed.problems.is_empty() {
        println!(
            "VERIFIED: every acknowledged record landed exactly once (seq 1..={acked} contiguous)."
        );
    } else {
        println!(
            "FAILED: landed {} records but {acked} were acknowledged{}: the benchmark lost or duplicated data",
            landed.lines,
            if unknown > 0 {
                format!(" (+{unknown} unknown)")
            } else {
                String::new()
            }
        );
        passed_correctness = false;
    }

    server_rt.block_on(snow.stop())?;
    let (hwm, rss) = proc::memory();
    println!(
        "process memory: peak RSS (VmHWM, since the last per-row reset) {}, RSS at end {}",
        hwm.map_or("-".into(), report::mib),
        rss.map_or("-".into(), report::mib)
    );
    if cli.keep {
        println!("kept {}", dir.path().display());
    }
    if !passed_correctness {
        println!("RESULT: FAILED (see above)");
    }
    drop(client_rt);
    server_rt.shutdown_timeout(Duration::from_secs(2));
    Ok(passed_correctness)
}

/// What one row sends: HTTP POSTs to the ListenHTTP path, or S3 operations.
enum Load {
    Http(Plan),
    S3(s3load::S3Plan),
}

/// Prints whether the targets are met.
fn targets_check(rows: &[Row]) {
    let find = |t: &str, s: &str| {
        rows.iter()
            .find(|r| r.target == t && r.scenario == s)
            .map(|r| &r.outcome)
    };
    if let (Some(snow), Some(bare)) = (find("snowstream", "single"), find("bare", "single")) {
        let ratio = snow.requests_per_sec() / bare.requests_per_sec().max(1e-9);
        println!(
            "single-record: snowstream/bare = {:.0}/{:.0} req/s = {ratio:.2}x  (target >= 0.70x): {}",
            snow.requests_per_sec(),
            bare.requests_per_sec(),
            if ratio >= 0.7 { "MET" } else { "NOT MET" }
        );
    }
    if let Some(snow) = find("snowstream", "bulk") {
        let mbs = snow.mb_per_sec();
        let bare = find("bare", "bulk").map_or(String::new(), |b| {
            format!(" (bare handler: {:.0} MB/s)", b.mb_per_sec())
        });
        println!(
            "bulk: snowstream {mbs:.0} MB/s{bare}  (target >= 500 MB/s): {}",
            if mbs >= 500.0 { "MET" } else { "NOT MET" }
        );
    }
    if let (Some(snow), Some(bare)) = (find("snowstream", "s3-small"), find("bare", "s3-small")) {
        println!(
            "s3-small (PutObject): snowstream/bare = {:.0}/{:.0} PUTs/s = {:.2}x; {:.1} vs {:.1} MB/s",
            snow.requests_per_sec(),
            bare.requests_per_sec(),
            snow.requests_per_sec() / bare.requests_per_sec().max(1e-9),
            snow.mb_per_sec(),
            bare.mb_per_sec()
        );
    }
    if let (Some(snow), Some(bare)) = (
        find("snowstream", "s3-multipart"),
        find("bare", "s3-multipart"),
    ) {
        println!(
            "s3-multipart (Create + UploadPart x N + Complete): snowstream/bare = {:.0}/{:.0} MB/s \
             = {:.2}x; {:.2}/{:.2} uploads/s",
            snow.mb_per_sec(),
            bare.mb_per_sec(),
            snow.mb_per_sec() / bare.mb_per_sec().max(1e-9),
            snow.requests_per_sec(),
            bare.requests_per_sec()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3h").is_err());
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert!(parse_bytes("1TB").is_err());
    }
}
