//! Whether the bulk row ran under issue 14's conditions: "≥ 500 MB/s landed end to end
//! (acknowledged and in the sink as zstd files) sustained for 60 s without 503s at a 1 GiB
//! spool". The goal line above it gives the rate (acknowledged body bytes from the row's
//! first request until its flush had landed them all); this says whether the window, the
//! spool limit and the compression were the goal's, so a short run is not read as the goal.

use crate::cli::Cli;
use crate::report::{Row, verdict};

/// The goal's window, spool limit and rate.
const GOAL_WINDOW_SECS: f64 = 60.0;
const GOAL_SPOOL_BYTES: u64 = 1 << 30;
const GOAL_MB_PER_SEC: f64 = 500.0;

/// Prints the bulk goal against this run's conditions (nothing without a snowstream bulk row).
pub fn conditions(cli: &Cli, rows: &[Row]) {
    let Some(snow) = rows
        .iter()
        .find(|r| r.target == "snowstream" && r.scenario == "bulk")
    else {
        return;
    };
    let landed = snow.outcome.acked_bytes as f64 / 1e6 / snow.row_secs.max(1e-9);
    let window = cli.duration.as_secs_f64();
    let zstd = cli.compression.name().starts_with("zstd");
    let as_goal = window >= GOAL_WINDOW_SECS && cli.spool_max_bytes <= GOAL_SPOOL_BYTES && zstd;
    println!(
        "  bulk under the goal's conditions: window {window:.0} s (goal: sustained >= 60 s), spool \
         limit {} (goal: 1 GiB), {} (goal: zstd), flush after the window {:.2} s, {} 503s: {}",
        crate::report::mib(cli.spool_max_bytes),
        cli.compression.name(),
        snow.flush_secs.unwrap_or(0.0),
        snow.outcome.unavailable,
        if as_goal {
            verdict(landed >= GOAL_MB_PER_SEC && snow.outcome.unavailable == 0)
        } else {
            "NOT MEASURED (run with --scenarios bulk --duration 60s --spool-max-bytes 1GiB)"
        }
    );
}
