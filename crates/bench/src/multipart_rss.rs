//! Issue 14's multipart memory goal, measured on the app alone: "peak RSS ≤ 256 MiB with two
//! 24 MiB uploads in flight". The s3-multipart row's peak RSS is the whole bench process (load
//! generator, the bare S3 handler, which holds each object whole, and the app), so after the
//! rows this phase starts a separate `snowstream serve` child as shipped (S3 API front door on
//! 127.0.0.1, local landing folder, default settings except paths, ports, the run's
//! `--envelope` and any `--app-rss-arg`), sends it `--app-rss-uploads` multipart uploads of the
//! row's parts with `--s3-uploads` of them in flight (bounded by `--app-rss-window`), and
//! samples the child's `/proc/PID/status` (proc(5): `VmRSS`, `RssAnon`, `RssFile`,
//! `RssShmem`, `Threads`) every few milliseconds; its `VmHWM` after the load is the figure.
//! Then SIGTERM lands the child's spool, and the landed files are read back: every
//! acknowledged record must have landed exactly once, in the asked envelope.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use records::landed::{self, Envelope, LandedLine, Manifest};
use testkit::ServerProcess;

use crate::cli::{Cli, Scenario};
use crate::harness::Harness;
use crate::load::Outcome;
use crate::s3load::{self, ACCESS_KEY, BUCKET, S3Plan, SECRET_KEY, Work};
use crate::show::{mib, verdict};
use crate::workload::Payload;
use crate::{clients, proc, targets, verify};

/// The goal: peak RSS of the app with [`GOAL_IN_FLIGHT`] uploads of [`GOAL_UPLOAD`] bytes.
const GOAL_RSS: u64 = 256 << 20;
const GOAL_IN_FLIGHT: usize = 2;
const GOAL_UPLOAD: u64 = 24 << 20;
/// How often the child's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// SIGTERM lands the child's whole spool before it exits; at most this long.
const STOP_LIMIT: Duration = Duration::from_secs(900);

/// One reading of the child's `/proc/PID/status`, in bytes (threads: a count).
#[derive(Debug, Default, Clone, Copy)]
pub struct Mem {
    pub rss: u64,
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
    pub threads: u64,
}

/// What the phase measured.
pub struct AppRss {
    /// `VmHWM` of the child after the load: its peak resident set.
    pub peak: u64,
    /// The sample with the highest `VmRSS`, and its composition.
    pub at_peak: Mem,
    /// Right after start, before any upload.
    pub idle: Mem,
    /// Uploads in flight and the size of one upload.
    pub in_flight: usize,
    pub upload_bytes: u64,
    pub outcome: Outcome,
    pub load_secs: f64,
    /// SIGTERM to exit (the child lands its spool first).
    pub stop_secs: f64,
    /// What the child was given beyond the defaults (`--app-rss-arg`s, `MIMALLOC_*`
    /// variables it inherits), so a figure is not read as the defaults'.
    pub changed: Vec<String>,
    /// Records landed, and the exactly-once verdict (with its reasons when false).
    pub landed: u64,
    pub problems: Vec<String>,
}

/// The phase's result, for the goals block.
pub enum Phase {
    Measured(Box<AppRss>),
    /// Not run (no binary); why.
    NotMeasured(String),
    /// Run but broken (child did not start or stop, landed files unreadable).
    Failed(String),
}

impl Phase {
    /// False when the run must fail: a broken phase or records lost / landed twice (not
    /// the memory goal: that is a verdict).
    pub fn passed(&self) -> bool {
        match self {
            Phase::Measured(m) => m.problems.is_empty() && m.outcome.bad_status == 0,
            Phase::NotMeasured(_) => true,
            Phase::Failed(_) => false,
        }
    }
}

/// Runs the phase when this run has the s3-multipart scenario and `--app-rss-uploads` > 0.
pub fn run(cli: &Cli, h: &Harness, uploads: &Arc<Vec<Vec<Payload>>>) -> Option<Phase> {
    if !cli.scenarios.contains(&Scenario::S3Multipart)
        || cli.app_rss_uploads == 0
        || uploads.is_empty()
    {
        return None;
    }
    let bin = match clients::snowstream_bin(cli.snowstream_bin.as_deref()) {
        Ok(bin) => bin,
        Err(e) => return Some(Phase::NotMeasured(format!("no snowstream binary: {e:#}"))),
    };
    eprintln!(
        "running {} multipart uploads against a snowstream serve child ({})...",
        cli.app_rss_uploads,
        bin.display()
    );
    Some(match measure(cli, h, &bin, uploads) {
        Ok(m) => Phase::Measured(Box::new(m)),
        Err(e) => Phase::Failed(format!("{e:#}")),
    })
}

fn measure(cli: &Cli, h: &Harness, bin: &Path, uploads: &Arc<Vec<Vec<Payload>>>) -> Result<AppRss> {
    let data = h.dir.path().join("app-rss");
    let (port, s3_port) = (testkit::free_port(), testkit::free_port());
    let mut args: Vec<String> = [
        "--data-dir",
        &data.display().to_string(),
        "--instance-id",
        "bench-rss",
        "--s3-listen",
        &format!("127.0.0.1:{s3_port}"),
        "--s3-credentials",
        &format!("{ACCESS_KEY}:{SECRET_KEY}"),
        "--s3-buckets",
        &format!("{BUCKET}={}", targets::STREAM),
        "--envelope",
        cli.envelope.name(),
        "--shutdown-timeout",
        "15m",
    ]
    .map(str::to_owned)
    .into();
    args.extend(cli.app_rss_arg.iter().cloned());
    let server = start(bin, port, &args)?;
    let pid = server.pid();
    let idle = read_mem(pid).context("reading the child's /proc status")?;

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || sample_peak(pid, &stop))
    };
    let plan = S3Plan {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        work: Work::Multipart(uploads.clone()),
        tasks: cli.s3_uploads,
        warmup: Duration::ZERO,
        duration: cli.app_rss_window,
        request_timeout: cli.request_timeout,
        budget: Some(Arc::new(AtomicU64::new(cli.app_rss_uploads))),
    };
    let started = Instant::now();
    let outcome = h.client_rt.block_on(s3load::run(&plan));
    let load_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let at_peak = sampler.join().expect("memory sampler");
    let peak = proc::peak_rss_of(pid).context("VmHWM of the child")?;

    let started = Instant::now();
    let code = server.terminate(STOP_LIMIT);
    let stop_secs = started.elapsed().as_secs_f64();
    ensure!(
        code == Some(0),
        "snowstream exited with {code:?} after SIGTERM"
    );

    let root = data.join("landing");
    let scan = verify::scan(&root, 2)?;
    let mut problems = scan.problems;
    let (acked, unknown) = (outcome.acked_records, outcome.unknown_records);
    if scan.lines != scan.manifest_records || scan.lines < acked || scan.lines > acked + unknown {
        problems.push(format!(
            "{} records landed ({} in manifests) for {acked} acknowledged (+{unknown} unknown)",
            scan.lines, scan.manifest_records
        ));
    }
    if scan.lines > 0 {
        problems.extend(check_envelope(&root, cli.envelope)?);
    }
    let upload_bytes = uploads[0].iter().map(|p| p.body.len() as u64).sum();
    Ok(AppRss {
        peak,
        at_peak,
        idle,
        in_flight: cli.s3_uploads,
        upload_bytes,
        outcome,
        load_secs,
        stop_secs,
        changed: cli
            .app_rss_arg
            .iter()
            .cloned()
            .chain(
                std::env::vars()
                    .filter(|(k, _)| k.starts_with("MIMALLOC_"))
                    .map(|(k, v)| format!("{k}={v}")),
            )
            .collect(),
        landed: scan.lines,
        problems,
    })
}

/// Starts the child (waiting until its health check answers), turning testkit's panic on a
/// child that never gets healthy into an error.
fn start(bin: &Path, port: u16, args: &[String]) -> Result<ServerProcess> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    std::panic::catch_unwind(|| ServerProcess::start(bin, port, &a, &[]))
        .map_err(|_| anyhow::anyhow!("snowstream serve {} did not start", args.join(" ")))
}

/// Samples the child's memory until `stop`; returns the sample with the highest RSS.
fn sample_peak(pid: u32, stop: &AtomicBool) -> Mem {
    let mut peak = Mem::default();
    while !stop.load(Ordering::Relaxed) {
        match read_mem(pid) {
            Some(m) if m.rss > peak.rss => peak = m,
            Some(_) => {}
            None => break,
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    peak
}

fn read_mem(pid: u32) -> Option<Mem> {
    let s = proc::status_of(pid)?;
    Some(Mem {
        rss: proc::status_field(&s, "VmRSS")?,
        anon: proc::status_field(&s, "RssAnon").unwrap_or(0),
        file: proc::status_field(&s, "RssFile").unwrap_or(0),
        shmem: proc::status_field(&s, "RssShmem").unwrap_or(0),
        threads: proc::status_field(&s, "Threads").unwrap_or(0),
    })
}

/// Every manifest below `root` must name `envelope`, and every line of the smallest landed
/// file must be a customer record in that form (`meta`: `{"record":{"id":…},"meta":…}`;
/// `record`: `{"id":…}` itself). Returns what is wrong.
fn check_envelope(root: &Path, envelope: Envelope) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut smallest: Option<(u64, PathBuf)> = None;
    for file in testkit::landed_files(root) {
        let name = file.display().to_string();
        let manifest: Manifest = serde_json::from_slice(
            &std::fs::read(landed::manifest_key(&name))
                .with_context(|| format!("reading the manifest of {name}"))?,
        )?;
        if manifest.envelope != envelope {
            problems.push(format!(
                "{name}: envelope {} in its manifest",
                manifest.envelope
            ));
        }
        if smallest.as_ref().is_none_or(|(b, _)| manifest.bytes < *b) {
            smallest = Some((manifest.bytes, file));
        }
    }
    let Some((_, file)) = smallest else {
        bail!("no landed file below {}", root.display());
    };
    let text = landed::open(&file)
        .and_then(landed::LandedFile::read_text)
        .with_context(|| format!("reading {}", file.display()))?;
    for (row, line) in landed::lines(&text) {
        let ok = LandedLine::parse_in(envelope, line).is_ok_and(|l| {
            let record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(l.record.get()).unwrap_or_default();
            record.contains_key("id") && l.meta.is_some() == (envelope == Envelope::Meta)
        });
        if !ok {
            problems.push(format!(
                "{} line {row} is not a customer record in the {envelope} envelope",
                file.display()
            ));
            break;
        }
    }
    Ok(problems)
}

/// Prints the goal line (in the goals block, under the s3-multipart ratio).
pub fn report(phase: &Phase) {
    let m = match phase {
        Phase::Measured(m) => m,
        Phase::NotMeasured(why) => {
            println!("  s3-multipart peak RSS of snowstream serve: NOT MEASURED: {why}");
            return;
        }
        Phase::Failed(e) => {
            println!("  s3-multipart peak RSS of snowstream serve: FAILED: {e}");
            return;
        }
    };
    let o = &m.outcome;
    let as_goal = m.in_flight == GOAL_IN_FLIGHT && m.upload_bytes.abs_diff(GOAL_UPLOAD) < 1 << 20;
    println!(
        "  s3-multipart peak RSS of snowstream serve (a separate child, VmHWM): {} with {} \
         uploads of {:.1} MiB in flight ({} uploads acknowledged in {:.1} s, {:.0} MB/s; idle {})  \
         (goal <= 256 MiB with two 24 MiB uploads in flight): {}",
        mib(m.peak),
        m.in_flight,
        m.upload_bytes as f64 / (1 << 20) as f64,
        o.ok,
        m.load_secs,
        o.acked_bytes as f64 / 1e6 / m.load_secs.max(1e-9),
        mib(m.idle.rss),
        if as_goal {
            verdict(m.peak <= GOAL_RSS)
        } else {
            "NOT MEASURED (the goal's load is --s3-uploads 2 --parts 3 --part-size 8MiB)"
        }
    );
    if !m.changed.is_empty() {
        println!(
            "      NOT the defaults: the child ran with {}",
            m.changed.join(" ")
        );
    }
    let p = &m.at_peak;
    println!(
        "      at the highest sampled RSS ({}): anonymous {}, file-backed {}, shmem {}, {} \
         threads; {} 503s, {} errors{}",
        mib(p.rss),
        mib(p.anon),
        mib(p.file),
        mib(p.shmem),
        p.threads,
        o.unavailable,
        o.bad_status + o.transport_errors,
        o.first_error
            .as_ref()
            .map_or(String::new(), |e| format!(" (first: {e})"))
    );
    if m.problems.is_empty() {
        println!(
            "      VERIFIED: its {} acknowledged records landed exactly once ({} landed after \
             SIGTERM, {:.1} s to land and exit)",
            o.acked_records, m.landed, m.stop_secs
        );
    } else {
        for p in &m.problems {
            println!("      PROBLEM: {p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_memory() {
        let m = read_mem(std::process::id()).unwrap();
        assert!(m.rss > 0 && m.anon > 0 && m.threads >= 1);
        assert!(proc::peak_rss_of(std::process::id()).unwrap() >= m.rss);
    }
}
