//! Command-line arguments of `snowstream-gen` and how they become a generator [`Config`].

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use generator::{Config, EventTime, Format};
use snowstream::config::value::parse_duration;

#[derive(Parser)]
#[command(
    name = "snowstream-gen",
    version,
    about = "Realistic customer change streams for NiFi or snowstream, with an SCD oracle."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// POST batches to a URL (snowstream's /contentListener or NiFi's ListenHTTP).
    Http(HttpArgs),
    /// Write one file per batch into a folder (for NiFi's ListFile/GetFile).
    Files(FilesArgs),
    /// Print the stream to stdout as one batch (to look at it).
    Print(PrintArgs),
}

#[derive(Args)]
pub(crate) struct HttpArgs {
    /// Where to POST, e.g. http://127.0.0.1:8080/contentListener
    #[arg(long, env = "SNOWSTREAM_GEN_URL")]
    pub(crate) url: String,
    /// Body format [default: ndjson]
    #[arg(long, value_parser = parse_format)]
    pub(crate) format: Option<Format>,
    /// Extra HTTP header `Name: value` (repeatable), e.g. `x-snowstream-stream: customers`.
    #[arg(long = "header", value_name = "K:V", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
    /// FlowFile attribute `key=value` (repeatable): inside each FlowFile with flowfile-v3,
    /// else sent as an HTTP header.
    #[arg(long = "attribute", value_name = "K=V", value_parser = parse_attribute)]
    pub(crate) attributes: Vec<(String, String)>,
    /// Gzip request bodies (Content-Encoding: gzip and flowfile-gzipped: true).
    #[arg(long)]
    pub(crate) gzip: bool,
    /// Requests in flight at once (1 keeps delivery order).
    #[arg(long, default_value_t = 1)]
    pub(crate) concurrency: usize,
    /// Retries of a request after 5xx, 408, 429 or a connection error.
    #[arg(long, default_value_t = 8)]
    pub(crate) retries: u32,
    /// Per-request timeout, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
    #[command(flatten)]
    pub(crate) delivery: DeliveryArgs,
    #[command(flatten)]
    pub(crate) stream: StreamArgs,
}

#[derive(Args)]
pub(crate) struct FilesArgs {
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// File format [default: csv]
    #[arg(long, value_parser = parse_format)]
    pub(crate) format: Option<Format>,
    /// File name prefix.
    #[arg(long, default_value = "customers")]
    pub(crate) prefix: String,
    /// FlowFile attribute `key=value` for the flowfile-v3 format (repeatable).
    #[arg(long = "attribute", value_name = "K=V", value_parser = parse_attribute)]
    pub(crate) attributes: Vec<(String, String)>,
    #[command(flatten)]
    pub(crate) delivery: DeliveryArgs,
    #[command(flatten)]
    pub(crate) stream: StreamArgs,
}

#[derive(Args)]
pub(crate) struct PrintArgs {
    /// Output format [default: ndjson]
    #[arg(long, value_parser = parse_format)]
    pub(crate) format: Option<Format>,
    #[command(flatten)]
    pub(crate) stream: StreamArgs,
}

#[derive(Args)]
pub(crate) struct DeliveryArgs {
    /// Records per request or file.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// Target records per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rate: f64,
    /// Stop after this long (e.g. 60s, 5m); without --count the stream is endless until then.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub(crate) progress: ProgressArg,
}

#[derive(Args)]
pub(crate) struct StreamArgs {
    /// Seed for a reproducible stream [default: random, printed]
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Starting point for every knob below.
    #[arg(long, value_enum, default_value_t = Profile::Demo)]
    pub(crate) profile: Profile,
    /// Customers in the initial load [demo, clean: 100; tricky: 20]
    #[arg(long)]
    pub(crate) initial: Option<u64>,
    /// Change events after the initial load [demo, clean: 1000; tricky: 300; endless with --duration]
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Relative weight of inserts among the changes [demo, clean: 20; tricky: 25]
    #[arg(long)]
    pub(crate) inserts: Option<u32>,
    /// Relative weight of updates [demo, clean: 70; tricky: 55]
    #[arg(long)]
    pub(crate) updates: Option<u32>,
    /// Relative weight of deletes [demo, clean: 10; tricky: 20]
    #[arg(long)]
    pub(crate) deletes: Option<u32>,
    /// Fraction of events delivered twice [demo: 0.02; clean: 0; tricky: 0.15]
    #[arg(long)]
    pub(crate) duplicates: Option<f64>,
    /// Events may arrive up to this many positions after their turn [demo: 8; clean: 0; tricky: 16]
    #[arg(long)]
    pub(crate) reorder_window: Option<u64>,
    /// Fraction of events delivered late [demo: 0.01; clean: 0; tricky: 0.08]
    #[arg(long)]
    pub(crate) late: Option<f64>,
    /// A late event arrives this many to twice this many positions after its turn [demo: 200; tricky: 40]
    #[arg(long)]
    pub(crate) late_by: Option<u64>,
    /// Chance of a burst of 1-3 more changes to the key just changed [demo: 0.05; clean: 0; tricky: 0.2]
    #[arg(long)]
    pub(crate) bursts: Option<f64>,
    /// Chance an insert brings back a deleted id [demo, clean: 0.25; tricky: 0.6]
    #[arg(long)]
    pub(crate) reinserts: Option<f64>,
    /// Event time of the first event: RFC 3339 or `now` [default: 2026-01-01T00:00:00Z]
    #[arg(long, value_parser = parse_start)]
    pub(crate) start: Option<EventTime>,
    /// Mean milliseconds between event times [1000/--rate when --rate is set, else 250]
    #[arg(long)]
    pub(crate) gap_ms: Option<u64>,
    /// Write the expected SCD1/SCD2 state of what was delivered to this NDJSON file.
    #[arg(long)]
    pub(crate) expect: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Profile {
    /// A little of every kind of messiness.
    Demo,
    /// In order, exactly once.
    Clean,
    /// Few keys, lots of duplicates, reordering, late data, bursts and re-inserts.
    Tricky,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ProgressArg {
    Auto,
    Bar,
    Plain,
    None,
}

impl StreamArgs {
    pub(crate) fn config(&self, endless: bool, rate: f64) -> Result<Config> {
        let mut c = match self.profile {
            Profile::Demo => Config::default(),
            Profile::Clean => Config::clean(),
            Profile::Tricky => Config::tricky(),
        };
        c.seed = self.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        let set = |dst: &mut u64, v: Option<u64>| *dst = v.unwrap_or(*dst);
        set(&mut c.initial_customers, self.initial);
        if endless && self.count.is_none() {
            c.changes = u64::MAX;
        }
        set(&mut c.changes, self.count);
        set(&mut c.reorder_window, self.reorder_window);
        set(&mut c.late_by, self.late_by);
        if rate > 0.0 {
            // Event time then advances about as fast as the wall clock while sending.
            c.mean_gap_ms = ((1000.0 / rate).round() as u64).max(1);
        }
        set(&mut c.mean_gap_ms, self.gap_ms);
        c.insert_weight = self.inserts.unwrap_or(c.insert_weight);
        c.update_weight = self.updates.unwrap_or(c.update_weight);
        c.delete_weight = self.deletes.unwrap_or(c.delete_weight);
        c.duplicate_rate = self.duplicates.unwrap_or(c.duplicate_rate);
        c.late_rate = self.late.unwrap_or(c.late_rate);
        c.burst_rate = self.bursts.unwrap_or(c.burst_rate);
        c.reinsert_rate = self.reinserts.unwrap_or(c.reinsert_rate);
        c.start = self.start.unwrap_or(c.start);
        c.validate()?;
        if self.seed.is_none() {
            eprintln!(
                "seed: {} (pass --seed {} to repeat this stream)",
                c.seed, c.seed
            );
        }
        Ok(c)
    }
}

pub(crate) fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

pub(crate) fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not `Name: value`"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

pub(crate) fn parse_attribute(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not `key=value`"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

pub(crate) fn parse_start(s: &str) -> Result<EventTime, String> {
    if s.eq_ignore_ascii_case("now") {
        return Ok(EventTime::from_datetime(chrono::Utc::now()));
    }
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_attributes_split_on_the_first_separator() {
        assert_eq!(
            parse_header("Authorization: Bearer a:b"),
            Ok(("Authorization".into(), "Bearer a:b".into()))
        );
        assert_eq!(
            parse_attribute("path=a=b"),
            Ok(("path".into(), "a=b".into()))
        );
        assert!(parse_header("no-colon").is_err());
        assert!(parse_attribute("no-equals").is_err());
    }

    #[test]
    fn start_accepts_now_and_rfc3339() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = parse_start("now").unwrap().millis();
        assert!(now >= before);
        assert_eq!(
            parse_start("2026-11-24T13:45:01.123Z").unwrap().to_string(),
            "2026-11-24T13:45:01.123Z"
        );
        assert!(parse_start("tomorrow").is_err());
    }
}
