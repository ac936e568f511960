//! Printing: the results table, target checks and the CPU breakdown.

use crate::load::Outcome;
use crate::proc::CpuUse;

/// One measured (target, scenario) cell.
pub struct Row {
    pub target: &'static str,
    pub scenario: &'static str,
    pub connections: usize,
    pub outcome: Outcome,
    pub cpu: CpuUse,
    /// Peak RSS during this row (bytes), if the peak could be reset before it.
    pub peak_rss: Option<u64>,
    /// For the server: how long `landing.flush()` took right after the row.
    pub flush_secs: Option<f64>,
    /// Wall time from the row's first request to the end of that flush.
    pub row_secs: f64,
}

pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
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
        "peak RSS"
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

/// Prints the results table, each row's first error and the target checks; false when a
/// row got an unexpected HTTP status (a benchmark bug, not backpressure).
pub fn results(rows: &[Row]) -> bool {
    println!();
    table(rows);
    println!(
        "req/s and MB/s count 2xx responses completed in the window; MB = 10^6 bytes of request \
         body; p50/p99/max = request start to whole 2xx response (ack latency)."
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
    targets_check(rows);
    println!();
    cpu(rows);
    ok
}

/// Prints whether the targets are met.
pub fn targets_check(rows: &[Row]) {
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
