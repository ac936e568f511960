//! Issue 27's landing memory goal: "peak RSS ≤ 256 MiB whatever the sizes", with 128 MiB
//! batches of incompressible records. A separate `snowstream serve` child as shipped (HTTP
//! receiver on 127.0.0.1, local landing folder or, with `--batch-rss-sink s3`, an S3 in this
//! process (s3s-fs, so its memory is not the child's), default settings except paths, ports
//! and any `--batch-rss-arg`: batches close at the default `--batch-max-bytes` of 128 MiB) takes
//! `--batch-rss-bytes` of NDJSON records carrying ~8 KiB of random base64 each (zstd keeps
//! ~3/4 of it), in 1 MiB bodies from four clients. So several 128 MiB batches are encoded into
//! ~100 MiB landed files while more arrive. Its `VmHWM` (proc(5)) is read every few
//! milliseconds until it exits: after the load, SIGTERM lands the rest of the spool. Then the
//! landed files are read back: every acknowledged record must have landed exactly once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use testkit::s3_child::{OutageS3, start_child, terminate_child};

use crate::cli::{Cli, RssSink};
use crate::clients::{self, Load, Policy};
use crate::overload::count_landed;
use crate::proc;
use crate::show::{mib, verdict};

/// The goal.
const GOAL_RSS: u64 = 256 << 20;
/// The goal's batch size (snowstream's default `--batch-max-bytes`).
const GOAL_BATCH: u64 = 128 << 20;
/// Characters of random base64 per record.
const BLOB: usize = 8 << 10;
/// Records per request: ~1 MiB bodies.
const PER_REQUEST: u64 = 128;
const CLIENTS: u64 = 4;
/// Ids of client `c` are `c * CLIENT_IDS ..`.
const CLIENT_IDS: u64 = 1 << 32;
/// The child's instance id, and the bucket of its S3 sink.
const INSTANCE: &str = "bench-batch-rss";
const BUCKET: &str = "landing";
/// How often the child's peak is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// SIGTERM lands the child's whole spool before it exits; at most this long.
const STOP_LIMIT: Duration = Duration::from_secs(900);

/// What the phase measured.
pub struct BatchRss {
    /// `VmHWM` of the child at its last reading before it exited.
    pub peak: u64,
    pub idle: u64,
    /// Where the child landed.
    pub sink: RssSink,
    /// Bytes of records acknowledged, and in how long.
    pub acked_bytes: u64,
    pub load_secs: f64,
    pub stop_secs: f64,
    pub landed_files: usize,
    /// The child's extra arguments (`--batch-rss-arg`), when any.
    pub changed: Vec<String>,
    /// Why exactly-once failed, if it did.
    pub problems: Vec<String>,
}

/// Runs the phase unless `--batch-rss-bytes` is 0: `None` then, else the measurement or why
/// it could not be made.
pub fn run(cli: &Cli, dir: &Path) -> Option<Result<BatchRss>> {
    if cli.batch_rss_bytes == 0 {
        return None;
    }
    Some(
        clients::snowstream_bin(cli.snowstream_bin.as_deref()).and_then(|bin| {
            eprintln!(
                "sending {} of incompressible records to a snowstream serve child ({})...",
                mib(cli.batch_rss_bytes),
                bin.display()
            );
            measure(cli, &bin, &dir.join("batch-rss"))
        }),
    )
}

fn measure(cli: &Cli, bin: &Path, dir: &Path) -> Result<BatchRss> {
    clients::block_on(measure_async(cli, bin, dir))
}

async fn measure_async(cli: &Cli, bin: &Path, dir: &Path) -> Result<BatchRss> {
    let data = dir.join("data");
    let port = testkit::free_port();
    // The in-process S3 runs in this process: the child's RSS is the child's own.
    let s3 = match cli.batch_rss_sink {
        RssSink::S3 => Some(OutageS3::start(&dir.join("store"), BUCKET).await),
        RssSink::Local => None,
    };
    let mut extra = vec!["--shutdown-timeout", "15m"];
    extra.extend(cli.batch_rss_arg.iter().map(String::as_str));
    let args = match &s3 {
        Some(s3) => s3.child_args(&data, INSTANCE, &extra),
        None => [
            "--data-dir",
            &data.display().to_string(),
            "--instance-id",
            INSTANCE,
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(str::to_owned)
        .collect(),
    };
    let server = start_child(bin, port, &args)
        .await
        .map_err(|_| anyhow::anyhow!("snowstream serve {} did not start", args.join(" ")))?;
    let pid = server.pid();
    let idle = proc::peak_rss_of(pid).context("VmHWM of the child")?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || sample_until_exit(pid, &stop))
    };

    let records = cli.batch_rss_bytes / (BLOB as u64 + 20);
    let requests = records.div_ceil(PER_REQUEST).div_ceil(CLIENTS).max(1);
    let load = Load::new(
        format!("http://127.0.0.1:{port}/contentListener"),
        Policy {
            max_requests: requests,
            until: Some(Instant::now() + Duration::from_secs(600)),
            timeout: Duration::from_secs(60),
            refused_pause: Duration::from_millis(50),
            retry_refused: true,
            unknown_pause: None,
        },
        record,
        (0..CLIENTS).map(|c| (c * CLIENT_IDS, PER_REQUEST)),
    );
    let started = Instant::now();
    load.spawn();
    load.join().await;
    let load_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let code = terminate_child(server, STOP_LIMIT).await?;
    let stop_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().expect("memory sampler");
    ensure!(
        code == Some(0),
        "snowstream exited with {code:?} after SIGTERM"
    );

    let acked = std::mem::take(&mut *load.acked());
    let unknown = std::mem::take(&mut *load.unknown_ids());
    let root = s3
        .as_ref()
        .map_or_else(|| data.join("landing"), OutageS3::bucket_dir);
    let (_, twice, lost, unacked) = count_landed(&root, &acked, &unknown);
    let mut problems = Vec::new();
    if twice + lost + unacked > 0 || acked.is_empty() {
        problems.push(format!(
            "{} acknowledged: {lost} lost, {twice} landed twice, {unacked} landed without an ack",
            acked.len()
        ));
    }
    if let Some(mut s3) = s3 {
        let open: Vec<_> = std::fs::read_dir(dir.join("store"))?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
            .collect();
        if !open.is_empty() {
            problems.push(format!("{} multipart uploads left open", open.len()));
        }
        s3.stop().await;
    }
    Ok(BatchRss {
        peak,
        idle,
        sink: cli.batch_rss_sink,
        acked_bytes: acked.len() as u64 * (BLOB as u64 + 20),
        load_secs,
        stop_secs,
        landed_files: testkit::landed_files(&root).len(),
        changed: cli.batch_rss_arg.clone(),
        problems,
    })
}

/// `{"id":…,"blob":"<BLOB random base64 characters>"}`, the same for the same id.
fn record(id: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut line = String::with_capacity(BLOB + 40);
    line.push_str(&format!("{{\"id\":{id},\"blob\":\""));
    for _ in 0..BLOB / 8 {
        // xorshift64*: 8 characters of 6 random bits from each step.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let mut bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        for _ in 0..8 {
            line.push(ALPHABET[(bits & 63) as usize] as char);
            bits >>= 6;
        }
    }
    line.push_str("\"}\n");
    line
}

/// Reads the child's `VmHWM` until it is gone (or `stop`, after the child was reaped):
/// the last reading, so the landing at SIGTERM is in the figure.
pub(crate) fn sample_until_exit(pid: u32, stop: &AtomicBool) -> u64 {
    let mut peak = 0;
    while !stop.load(Ordering::Relaxed) {
        match proc::peak_rss_of(pid) {
            Some(h) => peak = peak.max(h),
            None => break,
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    peak
}

/// Prints the goal line (in the goals block).
pub fn report(phase: &Result<BatchRss>) {
    let m = match phase {
        Ok(m) => m,
        Err(e) => {
            println!("  landing memory (128 MiB batches): FAILED: {e:#}");
            return;
        }
    };
    let as_goal = m.changed.is_empty();
    println!(
        "  landing memory (128 MiB batches of incompressible records, snowstream serve child, \
         {} sink, VmHWM): peak RSS {} MiB (limit {} MiB) = {:.2}  ({} acknowledged in {:.1} s, {} files \
         landed, {:.1} s to land the rest and exit; idle {}): {}",
        m.sink.name(),
        m.peak >> 20,
        GOAL_RSS >> 20,
        m.peak as f64 / GOAL_RSS as f64,
        mib(m.acked_bytes),
        m.load_secs,
        m.landed_files,
        m.stop_secs,
        mib(m.idle),
        if !as_goal {
            "NOT MEASURED as the goal (the child ran with other settings)"
        } else if m.acked_bytes < 2 * GOAL_BATCH {
            "NOT MEASURED as the goal (less than two 128 MiB batches; --batch-rss-bytes)"
        } else {
            verdict(m.peak <= GOAL_RSS)
        }
    );
    if !m.changed.is_empty() {
        println!(
            "      NOT the defaults: the child ran with {}",
            m.changed.join(" ")
        );
    }
    if m.problems.is_empty() {
        println!("      VERIFIED: every acknowledged record landed exactly once");
    } else {
        for p in &m.problems {
            println!("      PROBLEM: {p}");
        }
    }
}

/// False when the phase broke or lost or duplicated records (not the memory goal: a verdict).
pub fn passed(phase: &Result<BatchRss>) -> bool {
    phase.as_ref().is_ok_and(|m| m.problems.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_of_random_base64() {
        let line = record(7);
        assert_eq!(line, record(7));
        assert_ne!(line, record(8));
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["id"], 7);
        let blob = v["blob"].as_str().unwrap();
        assert_eq!(blob.len(), BLOB);
        let packed = zstd::encode_all(line.as_bytes(), 3).unwrap();
        assert!(
            packed.len() * 10 > line.len() * 7,
            "{} of {}",
            packed.len(),
            line.len()
        );
    }
}
