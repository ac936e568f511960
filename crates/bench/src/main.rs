//! snowstream-bench: how fast the real receiver acknowledges records, next to a bare axum
//! handler that only reads and drops bodies, in one process on 127.0.0.1.
//!
//! Both targets run in a "server" tokio runtime; the load generator runs in its own
//! runtime, so CPU time can be attributed per thread group. All of it shares the machine's
//! cores. Four scenarios per target: single-record JSON POSTs over many keep-alive
//! connections, 1 MiB NDJSON bodies over a few, and through the S3 front door (against a
//! bare S3 handler) ~1 KiB PutObjects and 3-part multipart uploads. At the end the landing spool is
//! flushed and every landed file is read back: the landed record count must equal the
//! acknowledged count, or the run fails. After the rows, a separate `snowstream serve` child
//! takes multipart uploads alone so that its own peak RSS is measured ([`multipart_rss`]), and
//! another one 128 MiB batches of incompressible records ([`batch_rss`]), a third eight
//! concurrent large HTTP bodies ([`body_rss`]).

mod batch_rss;
mod body_rss;
mod bulk;
mod chaos;
mod cli;
mod clients;
mod envelope;
mod halfload;
mod harness;
mod landed;
mod limits;
mod load;
mod multipart_rss;
mod overload;
mod proc;
mod report;
mod rows;
mod s3load;
mod show;
mod targets;
mod verify;
mod workload;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Scenario};
use crate::harness::Harness;
use crate::rows::Pools;

/// The allocator the `snowstream` binary uses (its main.rs), so the app measured here
/// allocates as the shipped one does.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distinct single-record bodies to cycle through.
const SINGLE_BODIES: usize = 20_000;

fn main() -> Result<()> {
    // As the `snowstream` binary does (its main.rs).
    snowstream::allocator::tune();
    let cli = Cli::parse();
    let ok = match cli.command {
        Some(cli::Command::Chaos(args)) => chaos::run(args)?,
        Some(cli::Command::Overload(args)) => overload::run(args)?,
        None => run(cli)?,
    };
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
        "receiver: ack={:?}, compression={}, envelope={}, spool limit {}; warm-up {:?}, window \
         {:?} per row",
        cli.ack,
        cli.compression.name(),
        cli.envelope,
        report::mib(cli.spool_max_bytes),
        cli.warmup,
        cli.duration
    );
    let (singles, bulk, record_bytes) = http_bodies(&cli);
    let mut h = Harness::start(&cli, server_threads)?;
    let (small, uploads) = s3_bodies(&cli);
    let pools = Pools {
        singles: Arc::new(singles),
        bulk: Arc::new(bulk),
        small: Arc::new(small),
        uploads: Arc::new(uploads),
    };

    let (rows, mut acked) = rows::run_all(&cli, &h, &pools);
    let app = multipart_rss::run(&cli, &h, &pools.uploads);
    let batches = batch_rss::run(&cli, h.dir.path());
    let bodies = body_rss::run(&cli, h.dir.path());
    // The stages alone, on the bulk bodies, after the rows (nothing else runs meanwhile).
    let stages = (!pools.bulk.is_empty())
        .then(|| limits::measure(&pools.bulk, cli.compression, cli.envelope));
    let mut passed = report::results(&rows, app.as_ref(), batches.as_ref());
    limits::report(&rows, stages.as_ref());
    passed &= app.as_ref().is_none_or(multipart_rss::Phase::passed);
    passed &= batches.as_ref().is_none_or(batch_rss::passed);
    if let Some(bodies) = &bodies {
        body_rss::report(bodies);
        passed &= body_rss::passed(bodies);
    }
    bulk::conditions(&cli, &rows);
    halfload::run(&cli, &h, &pools, &rows, &mut acked);
    passed &= landed::check(&h, acked, &cli, cores, record_bytes)?;
    passed &= envelope::check(&h, &cli, &pools.bulk, record_bytes);

    h.stop_services()?;
    let (hwm, rss) = proc::memory();
    println!(
        "process memory: peak RSS (VmHWM, since the last per-row reset) {}, RSS at end {}",
        hwm.map_or("-".into(), report::mib),
        rss.map_or("-".into(), report::mib)
    );
    if cli.keep {
        println!("kept {}", h.dir.path().display());
    }
    if !passed {
        println!("RESULT: FAILED (see above)");
    }
    h.close();
    Ok(passed)
}

/// Builds the single and bulk bodies and describes them; also returns the mean record size.
fn http_bodies(cli: &Cli) -> (Vec<workload::Payload>, Vec<workload::Payload>, f64) {
    let built = Instant::now();
    let work = workload::build(
        cli.seed,
        SINGLE_BODIES,
        cli.bulk_bodies,
        cli.body_size as usize,
    );
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
    (work.singles, work.bulk, work.mean_record_bytes)
}

/// Builds the bodies of the S3 scenarios that will run, and describes them.
fn s3_bodies(cli: &Cli) -> (Vec<workload::Payload>, Vec<Vec<workload::Payload>>) {
    let work = workload::build_s3(
        cli.seed,
        cli.scenarios.contains(&Scenario::S3Small),
        cli.s3_object_size as usize,
        cli.scenarios.contains(&Scenario::S3Multipart),
        cli.parts.max(1),
        cli.part_size as usize,
    );
    if !work.small.is_empty() || !work.uploads.is_empty() {
        println!("{}", work.describe());
    }
    (work.small, work.uploads)
}
