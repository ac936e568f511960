//! Issue 27's goals, each printed as a ratio to a limit measured in this same run.
//!
//! The limits are the work itself, not another server: the bare handler's own CPU per request
//! for the single row, and for the bulk and multipart rows the sum of the stages snowstream
//! cannot skip, each timed alone on one core over this run's own bodies (NDJSON validation
//! and packing, the landed lines in zstd, the spool's write and `fdatasync`, MD5 and SHA-256).
//! The measured side counts CPU from `/proc` (utime + stime): the load generator's threads
//! (`load-*`) are left out where the goal is the server's own, and a snowstream row runs from
//! its first request to the end of the flush that lands what it acknowledged.

use std::io::Write;
use std::time::Instant;

use chrono::Utc;
use landing::Compression;
use md5::Digest as _;
use records::landed::{Envelope, LineWriter};
use records::{Batch, Format, fill_batch};
use sha2::Digest as _;

use crate::proc::CpuUse;
use crate::report::Row;
use crate::show::verdict;
use crate::workload::Payload;

/// Each stage's cost, in nanoseconds of one core per byte of NDJSON body.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    /// `fill_batch`: NDJSON validated and packed as the receiver does.
    pub parse: f64,
    /// The packed batch read back and written as landed lines into zstd (the lander's work);
    /// `None` when the run lands gzip.
    pub encode: Option<f64>,
    /// The packed batch written to a file and `fdatasync`'d, then read back (the spool).
    pub spool: f64,
    /// MD5 of the body (an S3 part's ETag).
    pub md5: f64,
    /// SHA-256 of the body (SigV4's payload hash, verified by the server).
    pub sha256: f64,
}

const ATTRS: [(&str, &str); 2] = [
    ("filename", "bench.ndjson"),
    ("mime.type", "application/x-ndjson"),
];

/// Times each stage alone over `bodies` (at least ~64 MiB of work each, repeated if needed).
pub fn measure(bodies: &[Payload], compression: Compression, envelope: Envelope) -> Stages {
    let total: usize = bodies.iter().map(|p| p.body.len()).sum::<usize>().max(1);
    let rounds = (64 << 20) / total + 1;
    let per_byte = |secs: f64| secs * 1e9 / (total * rounds) as f64;

    let mut packed = Vec::with_capacity(bodies.len());
    let t = Instant::now();
    for round in 0..rounds {
        for p in bodies {
            let mut batch = Batch::new(Utc::now());
            fill_batch(&mut batch, &ATTRS, &p.body, Format::Ndjson).expect("valid NDJSON");
            if round == 0 {
                packed.push(batch.into_payload(1));
            }
        }
    }
    let parse = per_byte(t.elapsed().as_secs_f64());

    let encode = match compression {
        Compression::Zstd { level } => {
            let t = Instant::now();
            for _ in 0..rounds {
                for p in &packed {
                    std::hint::black_box(encode_zstd(p, level, envelope));
                }
            }
            Some(per_byte(t.elapsed().as_secs_f64()))
        }
        Compression::Gzip { .. } => None,
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    for round in 0..rounds {
        let path = dir.path().join(format!("segment-{round}"));
        let mut f = std::fs::File::create(&path).expect("segment file");
        for p in &packed {
            f.write_all(p).expect("write");
            f.sync_data().expect("fdatasync");
        }
        drop(f);
        std::hint::black_box(std::fs::read(&path).expect("read back"));
        std::fs::remove_file(&path).expect("remove");
    }
    let spool = per_byte(t.elapsed().as_secs_f64());

    let t = Instant::now();
    for _ in 0..rounds {
        for p in bodies {
            std::hint::black_box(md5::Md5::digest(&p.body));
        }
    }
    let md5 = per_byte(t.elapsed().as_secs_f64());
    let t = Instant::now();
    for _ in 0..rounds {
        for p in bodies {
            std::hint::black_box(sha2::Sha256::digest(&p.body));
        }
    }
    let sha256 = per_byte(t.elapsed().as_secs_f64());
    Stages {
        parse,
        encode,
        spool,
        md5,
        sha256,
    }
}

/// The landed lines of a packed batch in zstd at `level`: the lander's per-frame work.
fn encode_zstd(packed: &[u8], level: i32, envelope: Envelope) -> usize {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), level).expect("zstd");
    enc.include_checksum(true).expect("zstd");
    let mut lines = LineWriter::new("customers", "bench").with_envelope(envelope);
    lines.write_batch(packed, &mut enc).expect("a packed batch");
    enc.finish().expect("zstd").len()
}

/// Prints each goal of issue 27 this run measured, with its limit and ratio.
pub fn report(rows: &[Row], stages: Option<&Stages>) {
    let find = |t: &str, s: &str| rows.iter().find(|r| r.target == t && r.scenario == s);
    println!("goals (issue 27), each against a limit measured in this run:");
    if let Some(s) = stages {
        println!(
            "  stages alone, ns per body byte on one core: parse {:.2}, encode {}, spool write + fdatasync + read {:.2}, MD5 {:.2}, SHA-256 {:.2}",
            s.parse,
            s.encode.map_or("- (gzip)".into(), |e| format!("{e:.2}")),
            s.spool,
            s.md5,
            s.sha256
        );
    }
    if let (Some(snow), Some(bare)) = (find("snowstream", "single"), find("bare", "single")) {
        let per = |r: &Row| r.cpu.without_load_generator() * 1e6 / (r.outcome.ok as f64).max(1.0);
        let (s, b) = (per(snow), per(bare));
        let ratio = s / b.max(1e-9);
        println!(
            "  single durable: server CPU {s:.1} µs/request vs the bare handler's {b:.1} = {ratio:.2}x  (limit 1.80x): {}",
            verdict(ratio <= 1.8)
        );
    }
    if let (Some(snow), Some(bare), Some(s)) =
        (find("snowstream", "bulk"), find("bare", "bulk"), stages)
    {
        // Whole process (load generator included) on both sides: the bare row's CPU per byte
        // is receiving plus generating the load.
        let bytes = snow.outcome.acked_bytes as f64;
        let whole =
            snow.whole.as_ref().map_or(snow.cpu.process, |c| c.process) * 1e9 / bytes.max(1.0);
        let receive = bare.cpu.process * 1e9 / (bare.outcome.ok_bytes as f64).max(1.0);
        match s.encode {
            Some(encode) => {
                let limit = receive + s.parse + encode + s.spool;
                let ratio = whole / limit.max(1e-9);
                println!(
                    "  bulk NDJSON: whole pipeline {whole:.2} ns/byte vs stage sum {limit:.2} (receive + load {receive:.2}, parse {:.2}, encode {encode:.2}, spool {:.2}) = {ratio:.2}x  (limit 1.25x): {}",
                    s.parse,
                    s.spool,
                    verdict(ratio <= 1.25)
                );
            }
            None => println!("  bulk NDJSON: stage sum not measured for gzip"),
        }
    }
    if let (Some(snow), Some(s), Some(encode)) = (
        find("snowstream", "s3-multipart"),
        stages,
        stages.and_then(|s| s.encode),
    ) {
        let bytes = snow.outcome.acked_bytes as f64;
        let server = snow.whole.as_ref().map_or_else(
            || snow.cpu.without_load_generator(),
            CpuUse::without_load_generator,
        ) * 1e9
            / bytes.max(1.0);
        let limit = s.md5 + s.sha256 + s.parse + encode;
        let ratio = server / limit.max(1e-9);
        println!(
            "  s3 multipart: server CPU {server:.2} ns/byte vs its required stages {limit:.2} (MD5 {:.2}, payload SHA-256 {:.2}, validation {:.2}, zstd {encode:.2}) = {ratio:.2}x  (limit 1.25x): {}",
            s.md5,
            s.sha256,
            s.parse,
            verdict(ratio <= 1.25)
        );
    }
}
