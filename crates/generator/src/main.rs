//! `snowstream-gen`: posts a realistic customer change stream to NiFi's ListenHTTP or
//! snowstream, or writes it as files for a ListFile/GetFile flow, and optionally writes the
//! SCD state the warehouse must reach (`--expect`).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use generator::{
    Config, Customer, EventTime, FileWriter, Format, GenStats, Generator, HttpSender, HttpTarget,
    Pacer, Progress, ProgressDisplay, oracle, send_batches,
};

#[derive(Parser)]
#[command(
    name = "snowstream-gen",
    version,
    about = "Realistic customer change streams for NiFi or snowstream, with an SCD oracle."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST batches to a URL (snowstream's /contentListener or NiFi's ListenHTTP).
    Http(HttpArgs),
    /// Write one file per batch into a folder (for NiFi's ListFile/GetFile).
    Files(FilesArgs),
    /// Print the stream to stdout as one batch (to look at it).
    Print(PrintArgs),
}

#[derive(Args)]
struct HttpArgs {
    /// Where to POST, e.g. http://127.0.0.1:8080/contentListener
    #[arg(long, env = "SNOWSTREAM_GEN_URL")]
    url: String,
    /// Body format [default: ndjson]
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Extra HTTP header `Name: value` (repeatable), e.g. `x-snowstream-stream: customers`.
    #[arg(long = "header", value_name = "K:V", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// FlowFile attribute `key=value` (repeatable): inside each FlowFile with flowfile-v3,
    /// else sent as an HTTP header.
    #[arg(long = "attribute", value_name = "K=V", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
    /// Gzip request bodies (Content-Encoding: gzip and flowfile-gzipped: true).
    #[arg(long)]
    gzip: bool,
    /// Requests in flight at once (1 keeps delivery order).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Retries of a request after 5xx, 408, 429 or a connection error.
    #[arg(long, default_value_t = 8)]
    retries: u32,
    /// Per-request timeout, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(Args)]
struct FilesArgs {
    /// Folder to write into (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// File format [default: csv]
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// File name prefix.
    #[arg(long, default_value = "customers")]
    prefix: String,
    /// FlowFile attribute `key=value` for the flowfile-v3 format (repeatable).
    #[arg(long = "attribute", value_name = "K=V", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(Args)]
struct PrintArgs {
    /// Output format [default: ndjson]
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(Args)]
struct DeliveryArgs {
    /// Records per request or file.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Target records per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Stop after this long (e.g. 60s, 5m); without --count the stream is endless until then.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
}

#[derive(Args)]
struct StreamArgs {
    /// Seed for a reproducible stream [default: random, printed]
    #[arg(long)]
    seed: Option<u64>,
    /// Starting point for every knob below.
    #[arg(long, value_enum, default_value_t = Profile::Demo)]
    profile: Profile,
    /// Customers in the initial load [demo, clean: 100; tricky: 20]
    #[arg(long)]
    initial: Option<u64>,
    /// Change events after the initial load [demo, clean: 1000; tricky: 300; endless with --duration]
    #[arg(long)]
    count: Option<u64>,
    /// Relative weight of inserts among the changes [demo, clean: 20; tricky: 25]
    #[arg(long)]
    inserts: Option<u32>,
    /// Relative weight of updates [demo, clean: 70; tricky: 55]
    #[arg(long)]
    updates: Option<u32>,
    /// Relative weight of deletes [demo, clean: 10; tricky: 20]
    #[arg(long)]
    deletes: Option<u32>,
    /// Fraction of events delivered twice [demo: 0.02; clean: 0; tricky: 0.15]
    #[arg(long)]
    duplicates: Option<f64>,
    /// Events may arrive up to this many positions after their turn [demo: 8; clean: 0; tricky: 16]
    #[arg(long)]
    reorder_window: Option<u64>,
    /// Fraction of events delivered late [demo: 0.01; clean: 0; tricky: 0.08]
    #[arg(long)]
    late: Option<f64>,
    /// A late event arrives this many to twice this many positions after its turn [demo: 200; tricky: 40]
    #[arg(long)]
    late_by: Option<u64>,
    /// Chance of a burst of 1-3 more changes to the key just changed [demo: 0.05; clean: 0; tricky: 0.2]
    #[arg(long)]
    bursts: Option<f64>,
    /// Chance an insert brings back a deleted id [demo, clean: 0.25; tricky: 0.6]
    #[arg(long)]
    reinserts: Option<f64>,
    /// Event time of the first event: RFC 3339 or `now` [default: 2026-01-01T00:00:00Z]
    #[arg(long, value_parser = parse_start)]
    start: Option<EventTime>,
    /// Mean milliseconds between event times [1000/--rate when --rate is set, else 250]
    #[arg(long)]
    gap_ms: Option<u64>,
    /// Write the expected SCD1/SCD2 state of what was delivered to this NDJSON file.
    #[arg(long)]
    expect: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Profile {
    /// A little of every kind of messiness.
    Demo,
    /// In order, exactly once.
    Clean,
    /// Few keys, lots of duplicates, reordering, late data, bursts and re-inserts.
    Tricky,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Bar,
    Plain,
    None,
}

impl StreamArgs {
    fn config(&self, endless: bool, rate: f64) -> Result<Config> {
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

/// Where batches go.
enum Sink {
    Http(HttpSender),
    Files(FileWriter),
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Print(a) => print(a),
        Command::Files(a) => {
            let cfg = a
                .stream
                .config(a.delivery.duration.is_some(), a.delivery.rate)?;
            let format = a.format.unwrap_or(Format::Csv);
            let writer = FileWriter::new(&a.dir, format)?
                .prefix(a.prefix)
                .attributes(a.attributes);
            let where_ = format!("files in {}", a.dir.display());
            run(cfg, Sink::Files(writer), &a.delivery, &a.stream, &where_)
        }
        Command::Http(a) => {
            let cfg = a
                .stream
                .config(a.delivery.duration.is_some(), a.delivery.rate)?;
            let mut target = HttpTarget::new(a.url.clone());
            target.format = a.format.unwrap_or(Format::Ndjson);
            target.batch_size = a.delivery.batch.max(1);
            target.rate = a.delivery.rate;
            target.concurrency = a.concurrency.max(1);
            target.gzip = a.gzip;
            target.headers = a.headers;
            target.attributes = a.attributes;
            target.max_retries = a.retries;
            target.timeout = a.timeout;
            let sender = HttpSender::new(target)?;
            run(cfg, Sink::Http(sender), &a.delivery, &a.stream, &a.url)
        }
    }
}

fn print(a: PrintArgs) -> Result<()> {
    let cfg = a.stream.config(false, 0.0)?;
    if cfg.changes == u64::MAX {
        bail!("print needs a finite --count");
    }
    let records = generator::generate(&cfg);
    let (bytes, _) = generator::encode_batch(&records, a.format.unwrap_or(Format::Ndjson));
    std::io::stdout().write_all(&bytes)?;
    write_expect(a.stream.expect.as_ref(), &records)
}

fn run(cfg: Config, sink: Sink, d: &DeliveryArgs, s: &StreamArgs, where_: &str) -> Result<()> {
    let mut generator = Generator::new(cfg.clone());
    // A finite stream is generated up front so the progress bar knows its length.
    let (mut records, total, stats): (Box<dyn Iterator<Item = Customer>>, _, _) =
        if cfg.changes == u64::MAX {
            (Box::new(generator), None, None)
        } else {
            let all: Vec<Customer> = generator.by_ref().collect();
            let n = all.len() as u64;
            (Box::new(all.into_iter()), Some(n), Some(generator.stats()))
        };
    let display = match d.progress {
        ProgressArg::Auto => ProgressDisplay::Auto,
        ProgressArg::Bar => ProgressDisplay::Bar,
        ProgressArg::Plain => ProgressDisplay::Plain,
        ProgressArg::None => ProgressDisplay::Hidden,
    };
    let progress = Progress::new(total, display);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut expected = oracle::Builder::new();
    let batch_size = d.batch.max(1);
    let interrupted = Arc::new(AtomicBool::new(false));

    let outcome: Result<()> = runtime.block_on(async {
        watch_ctrl_c(interrupted.clone());
        let stop_at = d.duration.map(|t| tokio::time::Instant::now() + t);
        let flag = interrupted.clone();
        let batches = std::iter::from_fn(move || {
            if flag.load(Ordering::Relaxed) {
                return None;
            }
            let batch: Vec<Customer> = records.by_ref().take(batch_size).collect();
            (!batch.is_empty()).then_some(batch)
        });
        match sink {
            Sink::Http(sender) => {
                let on_ack = |batch: &[Customer]| batch.iter().for_each(|r| expected.push(r));
                send_batches(Arc::new(sender), batches, stop_at, &progress, on_ack).await?;
            }
            Sink::Files(mut writer) => {
                let mut pacer = Pacer::new(d.rate);
                for batch in batches {
                    pacer.wait(batch.len() as u64).await;
                    if stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
                        break;
                    }
                    progress.sent(batch.len() as u64);
                    writer.write_batch(&batch)?;
                    progress.acknowledged(batch.len() as u64);
                    batch.iter().for_each(|r| expected.push(r));
                }
            }
        }
        Ok(())
    });
    progress.finish();
    let summary = progress.summary();
    if interrupted.load(Ordering::Relaxed) {
        eprintln!("interrupted: stopped after the batches already under way");
    }
    eprintln!("{where_}: {summary}");
    if let Some(st) = stats {
        eprintln!("{}", describe(&st));
    }
    if let Some(path) = &s.expect {
        let oracle = expected.finish();
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        oracle::write_ndjson(&oracle, file)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "expected state of the {} acknowledged records: {} latest rows, {} history rows in {}",
            summary.acknowledged,
            oracle.latest.len(),
            oracle.history.len(),
            path.display()
        );
    }
    outcome
}

/// First Ctrl-C: finish the batches under way, then summarise and write `--expect`.
/// Second Ctrl-C: exit at once.
fn watch_ctrl_c(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("stopping after the batches under way (Ctrl-C again to quit now)");
        flag.store(true, Ordering::Relaxed);
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

fn describe(s: &GenStats) -> String {
    format!(
        "generated {} inserts ({} re-inserts), {} updates ({} in bursts), {} deletes; {} duplicate deliveries, {} late",
        s.inserts, s.reinserts, s.updates, s.burst_changes, s.deletes, s.duplicates, s.late
    )
}

fn write_expect(path: Option<&PathBuf>, records: &[Customer]) -> Result<()> {
    if let Some(path) = path {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        oracle::write_ndjson(&oracle::compute(records), file)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not `Name: value`"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not `key=value`"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

fn parse_start(s: &str) -> Result<EventTime, String> {
    if s.eq_ignore_ascii_case("now") {
        return Ok(EventTime::from_datetime(chrono::Utc::now()));
    }
    s.parse()
}

/// `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 30s, 5m or 1h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 days").unwrap_err().contains("unit"));
    }

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
