//! Running the rows: one measured window per (scenario, target), with CPU sampled exactly at
//! the window's start and end, and snowstream's spool flushed right after each of its rows.

use std::sync::Arc;
use std::time::Instant;

use crate::cli::{Cli, Scenario, Target};
use crate::harness::Harness;
use crate::load::{self, Outcome, Plan};
use crate::report::Row;
use crate::s3load::{self, S3Plan, Work};
use crate::workload::Payload;
use crate::{proc, targets};

/// The pre-built bodies every row cycles through.
pub struct Pools {
    /// One JSON record each (single).
    pub singles: Arc<Vec<Payload>>,
    /// NDJSON bodies of `--body-size` (bulk).
    pub bulk: Arc<Vec<Payload>>,
    /// Small NDJSON objects (s3-small).
    pub small: Arc<Vec<Payload>>,
    /// The parts of each multipart upload (s3-multipart).
    pub uploads: Arc<Vec<Vec<Payload>>>,
}

/// What snowstream acknowledged over all rows (warm-up included).
#[derive(Debug, Default, Clone, Copy)]
pub struct Acked {
    /// Records in 2xx responses.
    pub records: u64,
    /// Records in requests whose outcome is unknown (timeouts).
    pub unknown: u64,
}

/// What one row sends: HTTP POSTs to the ListenHTTP path, or S3 operations.
enum Load {
    Http(Plan),
    S3(S3Plan),
}

/// Runs every `--scenarios` × `--targets` row in order.
pub fn run_all(cli: &Cli, h: &Harness, pools: &Pools) -> (Vec<Row>, Acked) {
    let mut rows = Vec::new();
    let mut acked = Acked::default();
    for &scenario in &cli.scenarios {
        for &target in &cli.targets {
            let row = run_row(cli, h, pools, scenario, target);
            if target == Target::Snowstream {
                acked.records += row.outcome.acked_records;
                acked.unknown += row.outcome.unknown_records;
            }
            rows.push(row);
        }
    }
    (rows, acked)
}

/// The load of `scenario` against `target`, and its connections (or S3 tasks).
fn load(
    cli: &Cli,
    h: &Harness,
    pools: &Pools,
    scenario: Scenario,
    target: Target,
) -> (Load, usize) {
    let http = |payloads: &Arc<Vec<Payload>>, content_type, connections| {
        Load::Http(Plan {
            addr: match target {
                Target::Bare => h.bare,
                Target::Snowstream => h.snow.addr,
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
    let s3 = |work, tasks| {
        let addr = match target {
            Target::Bare => h.bare_s3,
            Target::Snowstream => h.s3,
        };
        Load::S3(S3Plan {
            endpoint: format!("http://{addr}"),
            work,
            tasks,
            warmup: cli.warmup,
            duration: cli.duration,
            request_timeout: cli.request_timeout,
            budget: None,
        })
    };
    match scenario {
        Scenario::Single => (
            http(&pools.singles, "application/json", cli.connections),
            cli.connections,
        ),
        Scenario::Bulk => (
            http(&pools.bulk, "application/x-ndjson", cli.bulk_connections),
            cli.bulk_connections,
        ),
        Scenario::S3Small => (
            s3(Work::Small(pools.small.clone()), cli.s3_tasks),
            cli.s3_tasks,
        ),
        Scenario::S3Multipart => (
            s3(Work::Multipart(pools.uploads.clone()), cli.s3_uploads),
            cli.s3_uploads,
        ),
    }
}

/// Runs one row: warm-up, measured window, then (for snowstream) a flush of the spool.
fn run_row(cli: &Cli, h: &Harness, pools: &Pools, scenario: Scenario, target: Target) -> Row {
    let (job, connections) = load(cli, h, pools, scenario, target);
    eprintln!(
        "running {} {} ({connections} connections or S3 tasks)...",
        target.name(),
        scenario.name()
    );
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
    let at_start = proc::cpu_sample();
    let outcome: Outcome = match &job {
        Load::Http(plan) => h.client_rt.block_on(load::run(plan)),
        Load::S3(plan) => h.client_rt.block_on(s3load::run(plan)),
    };
    let (before, after) = sampler.join().expect("sampler thread");
    let peak_rss = if can_reset { proc::memory().0 } else { None };
    let flush_secs = (target == Target::Snowstream).then(|| {
        let t = Instant::now();
        h.server_rt.block_on(h.snow.landing.flush());
        t.elapsed().as_secs_f64()
    });
    let whole = flush_secs.map(|_| proc::cpu_between(&at_start, &proc::cpu_sample()));
    Row {
        target: target.name(),
        scenario: scenario.name(),
        connections,
        outcome,
        cpu: proc::cpu_between(&before, &after),
        whole,
        peak_rss,
        flush_secs,
        row_secs: row_start.elapsed().as_secs_f64(),
    }
}
