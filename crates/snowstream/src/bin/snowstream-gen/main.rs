//! `snowstream-gen`: posts a realistic customer change stream to NiFi's ListenHTTP or
//! snowstream, or writes it as files for a ListFile/GetFile flow, and optionally writes the
//! SCD state the warehouse must reach (`--expect`).

mod args;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use args::{Cli, Command, DeliveryArgs, PrintArgs, ProgressArg, StreamArgs};
use clap::Parser;
use generator::{
    Config, Customer, FileWriter, Format, GenStats, Generator, HttpSender, HttpTarget, Pacer,
    Progress, ProgressDisplay, oracle, send_batches,
};

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
            let format = a.format.unwrap_or(Format::Records(records::Format::Csv));
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
            target.format = a.format.unwrap_or(Format::Records(records::Format::Ndjson));
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
    let (bytes, _) = generator::encode_batch(
        &records,
        a.format.unwrap_or(Format::Records(records::Format::Ndjson)),
    );
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
    // Only kept when asked for: a long run would otherwise hold every version in memory.
    let mut expected = s.expect.is_some().then(oracle::Builder::new);
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
                let on_ack = |batch: &[Customer]| remember(&mut expected, batch);
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
                    remember(&mut expected, &batch);
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
    if let (Some(path), Some(expected)) = (&s.expect, expected) {
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

fn remember(expected: &mut Option<oracle::Builder>, batch: &[Customer]) {
    if let Some(b) = expected {
        batch.iter().for_each(|r| b.push(r));
    }
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
