//! Issue 14's latency goal: p99 ack latency of single-record POSTs at *half load*, in one
//! more snowstream row after the others. Half load is half of the req/s snowstream's own
//! single row reached in this run (its measured maximum with durable acks), not half of the
//! bare handler's rate: at the bare handler's half snowstream would be past its maximum and
//! the p99 would only measure the queue. Latency is request start to whole 2xx response, as
//! in the other rows.

use crate::cli::{Cli, Target};
use crate::harness::Harness;
use crate::load::{self, Plan};
use crate::report::{Row, verdict};
use crate::rows::{Acked, Pools};
use crate::targets;

/// The goal, in milliseconds.
const GOAL_P99_MS: f64 = 10.0;

/// Runs the half-load row when this run measured snowstream's single row, prints it against
/// the goal, and adds what it acknowledged to `acked` (the exactly-once check counts it).
pub fn run(cli: &Cli, h: &Harness, pools: &Pools, rows: &[Row], acked: &mut Acked) {
    let Some(max) = rows
        .iter()
        .find(|r| r.target == Target::Snowstream.name() && r.scenario == "single")
        .map(|r| r.outcome.requests_per_sec())
        .filter(|rate| *rate >= 2.0)
    else {
        return;
    };
    let rate = max / 2.0;
    eprintln!("running snowstream single at half load ({rate:.0} req/s)...");
    let plan = Plan {
        addr: h.snow.addr,
        path: targets::PATH,
        content_type: "application/json",
        payloads: pools.singles.clone(),
        connections: cli.connections,
        warmup: cli.warmup,
        duration: cli.duration,
        request_timeout: cli.request_timeout,
    };
    let outcome = h.client_rt.block_on(load::run_paced(&plan, rate));
    h.server_rt.block_on(h.snow.landing.flush());
    acked.records += outcome.acked_records;
    acked.unknown += outcome.unknown_records;
    let ms = |q| {
        outcome
            .latency_ms(q)
            .map_or("-".into(), |v| format!("{v:.2}"))
    };
    let p99 = outcome.latency_ms(0.99);
    println!(
        "  single-record ack latency at half load: p50 {} ms, p99 {} ms at {:.0} req/s (asked \
         {rate:.0} = half of snowstream's measured {max:.0} req/s)  (goal p99 <= {GOAL_P99_MS} ms): {}",
        ms(0.5),
        ms(0.99),
        outcome.requests_per_sec(),
        verdict(p99.is_some_and(|p| p <= GOAL_P99_MS))
    );
}
