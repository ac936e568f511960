//! The correctness check at the end of a run: after flushing the spool, every landed file is
//! read back and the landed record count must match what snowstream acknowledged.

use std::time::Instant;

use anyhow::Result;

use crate::harness::Harness;
use crate::rows::Acked;
use crate::{report, verify};

/// Flushes, scans the landing folder with `threads` threads and prints the verdict; false
/// when records were lost or duplicated. `record_bytes` is the workload's mean record size,
/// against which the landed line's size is checked (issue 14: at most 1.3x).
pub fn check(
    h: &Harness,
    acked: Acked,
    cli: &crate::cli::Cli,
    threads: usize,
    record_bytes: f64,
) -> Result<bool> {
    let Acked {
        records: acked,
        unknown,
    } = acked;
    println!();
    let t = Instant::now();
    h.server_rt.block_on(h.snow.landing.flush());
    let flush = t.elapsed();
    let t = Instant::now();
    let landed = verify::scan(&h.dir.path().join("landing"), threads)?;
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
    if landed.lines > 0 {
        let per_line = landed.uncompressed_bytes as f64 / landed.lines as f64;
        let r = per_line / record_bytes.max(1.0);
        println!(
            "  landed bytes (this run's stream, --envelope {}): {per_line:.0} bytes per \
             uncompressed landed line for a {record_bytes:.0}-byte record = {r:.2}x (issue 14's \
             goal is measured on a --envelope record stream below)",
            cli.envelope
        );
    }
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
        Ok(true)
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
        Ok(false)
    }
}
