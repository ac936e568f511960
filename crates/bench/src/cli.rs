//! Command-line arguments of the bench. Durations are humantime (`500ms`, `10s`, `1m 30s`;
//! a bare number is seconds) and sizes are bytesize (`1MiB`, `64KB`, `1000`), as in
//! snowstream's own settings.

use std::time::Duration;

use clap::Parser;
use landing::{AckMode, Compression};
use snowstream::config::value::{parse_duration, parse_size};

#[derive(Parser, Debug)]
#[command(
    name = "snowstream-bench",
    about = "Benchmark snowstream's ListenHTTP receiver (durable acks, zstd landing) against a bare axum handler, on 127.0.0.1",
    long_about = "Benchmark snowstream's ListenHTTP receiver and S3 front door (durable acks, zstd landing) against bare axum handlers, on 127.0.0.1, in one process (the shipped App, started as `snowstream serve` starts it). Prints each of issue 14's goals against its target and checks that every acknowledged record landed exactly once. The multipart memory goal is measured on a separate `snowstream serve` child (the `snowstream` binary next to this one, or --snowstream-bin), since this process's RSS includes the load generator and the bare S3 handler."
)]
pub struct Cli {
    /// Measured window per target and scenario (e.g. 10s, 500ms, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up before each measured window (not counted in rates or latencies).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Keep-alive connections for the single-record scenario.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Keep-alive connections for the bulk scenario.
    #[arg(long, default_value_t = 4)]
    pub bulk_connections: usize,
    /// Bulk body size (e.g. 1MiB, 64KB, 65536).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub body_size: u64,
    /// Distinct bulk bodies to cycle through.
    #[arg(long, default_value_t = 16)]
    pub bulk_bodies: usize,
    /// Concurrent PutObject tasks (sharing one aws-sdk-s3 client) for s3-small.
    #[arg(long, default_value_t = 32)]
    pub s3_tasks: usize,
    /// Size of the small NDJSON objects of s3-small.
    #[arg(long, default_value = "1KiB", value_parser = parse_size)]
    pub s3_object_size: u64,
    /// Concurrent multipart uploads for s3-multipart (each sends its parts one after another).
    #[arg(long, default_value_t = 2)]
    pub s3_uploads: usize,
    /// Part size of s3-multipart (whole NDJSON lines, up to this size).
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Parts per multipart upload.
    #[arg(long, default_value_t = 3)]
    pub parts: usize,
    /// Scenarios to run: single, bulk, s3-small, s3-multipart (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "single,bulk,s3-small,s3-multipart"
    )]
    pub scenarios: Vec<Scenario>,
    /// Targets to run: bare, snowstream (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "bare,snowstream")]
    pub targets: Vec<Target>,
    /// Ack mode of the receiver: durable (fsync'd spool), received or landed.
    #[arg(long, default_value = "durable")]
    pub ack: AckMode,
    /// Landed-file compression: zstd[:level] or gzip[:level].
    #[arg(long, default_value = "zstd")]
    pub compression: Compression,
    /// Spool limit; above it the receiver answers 503 (counted, not fatal). 1 GiB is the
    /// app's default and the spool of issue 14's bulk goal.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub spool_max_bytes: u64,
    /// Worker threads of the server runtime (default: one per core).
    #[arg(long)]
    pub server_threads: Option<usize>,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// A request not answered within this counts as an error (outcome unknown).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Where to put the spool and landing folders (a temp dir inside it; default: $TMPDIR).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Keep the spool and landed files after the run (prints where).
    #[arg(long)]
    pub keep: bool,
    /// Seed of the customer record generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// snowstream's `--encode-concurrency` (batch files between encode and landing; 1 = one
    /// after the other, 0 = one per core plus one).
    #[arg(long, default_value_t = 0)]
    pub encode_concurrency: u64,
    /// Landed-line form of the measured stream (snowstream's `--envelope`): meta (record plus
    /// lineage and attributes per line) or record (the bare record; lineage from the file's
    /// key and manifest). Every row, the app-memory phase and the exactly-once check use it.
    #[arg(long, default_value = "meta")]
    pub envelope: records::landed::Envelope,
    /// After the rows, when s3-multipart ran: multipart uploads (`--parts` × `--part-size`,
    /// `--s3-uploads` in flight) sent to a separate `snowstream serve` child, whose own peak RSS
    /// (VmHWM) is issue 14's multipart memory figure; its landed files are then checked
    /// exactly once. 0 skips this phase.
    #[arg(long, default_value_t = 20)]
    pub app_rss_uploads: u64,
    /// Time limit of that phase (it ends at whichever of count and time comes first).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub app_rss_window: Duration,
    /// The snowstream binary of that phase (default: `snowstream` next to this executable).
    #[arg(long)]
    pub snowstream_bin: Option<std::path::PathBuf>,
    /// One more `snowstream serve` argument for that phase (repeat it; e.g.
    /// `--app-rss-arg=--encode-concurrency=1`), to see what the child's memory depends on.
    #[arg(long, allow_hyphen_values = true)]
    pub app_rss_arg: Vec<String>,
    /// After the rows: this many bytes of NDJSON records of ~8 KiB of random base64 each, sent
    /// to a separate `snowstream serve` child whose batches close at 128 MiB (its default);
    /// its peak RSS (VmHWM, up to its exit after landing everything) is issue 27's landing
    /// memory figure, and its landed files are checked exactly once. 0 skips this phase.
    #[arg(long, default_value = "400MiB", value_parser = parse_size)]
    pub batch_rss_bytes: u64,
    /// Where that phase's child lands: `local` (a folder) or `s3` (an S3 in this process,
    /// s3s-fs: the landed files go up as multipart uploads of 8 MiB parts).
    #[arg(long, default_value = "local")]
    pub batch_rss_sink: RssSink,
    /// One more `snowstream serve` argument for that phase (repeat it; e.g.
    /// `--batch-rss-arg=--batch-max-bytes=16MiB` for a quick check).
    #[arg(long, allow_hyphen_values = true)]
    pub batch_rss_arg: Vec<String>,
    /// After the rows: eight concurrent POSTs of this many bytes of NDJSON each (sent chunked)
    /// to a separate `snowstream serve` child; its peak RSS (VmHWM, up to its exit after
    /// landing everything) is issue 27's memory figure for large HTTP bodies, and its landed
    /// files are checked exactly once. 0 skips this phase.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub body_rss_bytes: u64,
    /// Then, in that phase, one multipart S3 upload of this many bytes of NDJSON in 64 MiB
    /// parts to the same child (0: none).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub object_rss_bytes: u64,
    /// Instead of the benchmark: `chaos` (faults under load, counts lost and duplicated).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Runs other than the benchmark.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// kill -9 cycles, an S3 outage and a disk-full episode against a real `snowstream serve`
    /// under load; prints acknowledged / landed / lost / duplicated per phase and exits
    /// non-zero unless 0 lost and 0 duplicated.
    Chaos(crate::chaos::ChaosArgs),
    /// Overload with the sink down (issue 14's memory goal): peak RSS of a real `snowstream
    /// serve` vs 256 MiB and the 503 count, then the sink returns and every acknowledged
    /// record must land exactly once.
    Overload(crate::overload::OverloadArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Single,
    Bulk,
    S3Small,
    S3Multipart,
}

/// The sink of the landing-memory phase's child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RssSink {
    Local,
    S3,
}

impl RssSink {
    pub fn name(self) -> &'static str {
        match self {
            RssSink::Local => "local",
            RssSink::S3 => "S3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Bare,
    Snowstream,
}

impl Scenario {
    /// The name in `--scenarios` and in the results table.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Single => "single",
            Scenario::Bulk => "bulk",
            Scenario::S3Small => "s3-small",
            Scenario::S3Multipart => "s3-multipart",
        }
    }
}

impl Target {
    /// The name in `--targets` and in the results table.
    pub fn name(self) -> &'static str {
        match self {
            Target::Bare => "bare",
            Target::Snowstream => "snowstream",
        }
    }
}
