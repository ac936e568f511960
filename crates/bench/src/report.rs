//! Printing: the results table, target checks and the CPU breakdown.

use crate::batch_rss;
use crate::load::Outcome;
use crate::multipart_rss::{self, Phase};
use crate::proc::CpuUse;
pub use crate::show::{mib, verdict};

/// One measured (target, scenario) cell.
pub struct Row {
    pub target: &'static str,
    pub scenario: &'static str,
    pub connections: usize,
    pub outcome: Outcome,
    pub cpu: CpuUse,
    /// For the server: CPU from the row's first request to the end of the flush that landed
    /// what it acknowledged (warm-up, window and flush).
    pub whole: Option<CpuUse>,
    /// Peak RSS of the whole bench process (load generator, bare handlers and the app) during
    /// this row (bytes), if the peak could be reset before it.
    pub peak_rss: Option<u64>,
    /// For the server: how long `landing.flush()` took right after the row.
    pub flush_secs: Option<f64>,
    /// Wall time from the row's first request to the end of that flush.
    pub row_secs: f64,
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

pub fn table(rows: &[Row]) {
    println!(
        "{:<11} {:<12} {:>5} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>9}",
        "target",
        "scenario",
        "conns",
        "requests",
        "req/s",
        "MB/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "503s",
        "errors",
        "bench RSS"
    );
    for r in rows {
        let o = &r.outcome;
        println!(
            "{:<11} {:<12} {:>5} {:>9} {:>11.0} {:>9.1} {:>9} {:>9} {:>9} {:>6} {:>6} {:>9}",
            r.target,
            r.scenario,
            r.connections,
            o.ok,
            o.requests_per_sec(),
            o.mb_per_sec(),
            ms(o.latency_ms(0.5)),
            ms(o.latency_ms(0.99)),
            ms(o.latency_ms(1.0)),
            o.unavailable,
            o.bad_status + o.transport_errors,
            r.peak_rss.map_or("-".into(), mib),
        );
    }
}

pub fn cpu(rows: &[Row]) {
    println!("CPU seconds per row (both targets and the load generator share the cores):");
    for r in rows {
        let per_req = if r.outcome.ok > 0 {
            format!(
                "{:.0} µs CPU/request",
                r.cpu.process * 1e6 / (r.outcome.ok as f64).max(1.0)
            )
        } else {
            "-".into()
        };
        let cores = r.cpu.process / r.outcome.window.as_secs_f64().max(1e-9);
        println!(
            "  {} {}: {:.2} s process CPU in the window ({cores:.2} cores busy), {per_req}",
            r.target, r.scenario, r.cpu.process
        );
        for (label, secs) in &r.cpu.groups {
            if *secs >= 0.01 {
                println!("      {secs:>7.2} s  {label}");
            }
        }
        if let Some(f) = r.flush_secs {
            println!(
                "      flush after the row (close + land open batches): {f:.2} s; end to end \
                 (acked body bytes / time until landed, warm-up included): {:.0} MB/s",
                r.outcome.acked_bytes as f64 / 1e6 / r.row_secs.max(1e-9)
            );
        }
    }
}

/// Prints the results table, each row's first error and the target checks (with the
/// app-alone multipart memory phase, when it ran); false when a row got an unexpected HTTP
/// status (a benchmark bug, not backpressure).
pub fn results(
    rows: &[Row],
    app: Option<&Phase>,
    batches: Option<&anyhow::Result<batch_rss::BatchRss>>,
) -> bool {
    println!();
    table(rows);
    println!(
        "req/s and MB/s count 2xx responses completed in the window; MB = 10^6 bytes of request \
         body; p50/p99/max = request start to whole 2xx response (ack latency); bench RSS = \
         peak RSS of this whole process in the row (load generator, bare handlers and the app)."
    );
    println!();
    let mut ok = true;
    for r in rows {
        if let Some(e) = &r.outcome.first_error {
            println!("{} {}: first error: {e}", r.target, r.scenario);
        }
        if r.outcome.bad_status > 0 {
            ok = false;
        }
    }
    targets_check(rows, app);
    if let Some(batches) = batches {
        batch_rss::report(batches);
    }
    println!();
    cpu(rows);
    ok
}

/// Prints each of issue 14's goals that this run measured, against its target.
pub fn targets_check(rows: &[Row], app: Option<&Phase>) {
    let find = |t: &str, s: &str| rows.iter().find(|r| r.target == t && r.scenario == s);
    let ratio = |a: f64, b: f64| a / b.max(1e-9);
    println!("goals (issue 14), measured in this run:");
    if let (Some(snow), Some(bare)) = (find("snowstream", "single"), find("bare", "single")) {
        let (s, b) = (
            snow.outcome.requests_per_sec(),
            bare.outcome.requests_per_sec(),
        );
        let r = ratio(s, b);
        println!(
            "  single-record: snowstream/bare = {s:.0}/{b:.0} req/s = {r:.2}x  (goal >= 0.70x): {}",
            verdict(r >= 0.7)
        );
    }
    if let Some(snow) = find("snowstream", "bulk") {
        // Landed end to end: acknowledged body bytes over the time from the row's first
        // request until its flush had landed them all (warm-up and flush included).
        let landed = snow.outcome.acked_bytes as f64 / 1e6 / snow.row_secs.max(1e-9);
        let bare = find("bare", "bulk").map_or(String::new(), |b| {
            format!("; bare handler {:.0} MB/s", b.outcome.mb_per_sec())
        });
        let refused = snow.outcome.unavailable;
        println!(
            "  bulk: {landed:.0} MB/s landed end to end ({:.0} MB/s acknowledged in the window{bare}; {refused} 503s)  (goal >= 500 MB/s landed, no 503s): {}",
            snow.outcome.mb_per_sec(),
            verdict(landed >= 500.0 && refused == 0)
        );
    }
    if let (Some(snow), Some(bare)) = (find("snowstream", "s3-small"), find("bare", "s3-small")) {
        let (s, b) = (
            snow.outcome.requests_per_sec(),
            bare.outcome.requests_per_sec(),
        );
        let r = ratio(s, b);
        println!(
            "  s3-small (PutObject): snowstream/bare = {s:.0}/{b:.0} PUTs/s = {r:.2}x; {:.1} vs \
             {:.1} MB/s  (goal >= 0.70x): {}",
            snow.outcome.mb_per_sec(),
            bare.outcome.mb_per_sec(),
            verdict(r >= 0.7)
        );
    }
    if let (Some(snow), Some(bare)) = (
        find("snowstream", "s3-multipart"),
        find("bare", "s3-multipart"),
    ) {
        let (s, b) = (snow.outcome.mb_per_sec(), bare.outcome.mb_per_sec());
        let r = ratio(s, b);
        // The row's RSS is the whole bench process (the bare S3 handler holds each object
        // whole); the memory goal is the app's own, measured by `multipart_rss` below.
        println!(
            "  s3-multipart (Create + UploadPart x N + Complete): snowstream/bare = {s:.0}/{b:.0} \
             MB/s = {r:.2}x; {:.2}/{:.2} uploads/s; whole bench process peak RSS {} (not the \
             goal's figure)  (goal >= 0.70x): {}",
            snow.outcome.requests_per_sec(),
            bare.outcome.requests_per_sec(),
            snow.peak_rss.map_or("-".into(), mib),
            verdict(r >= 0.7)
        );
    }
    if let Some(phase) = app {
        multipart_rss::report(phase);
    }
}
