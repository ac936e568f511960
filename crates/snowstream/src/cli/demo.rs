//! `snowstream demo`: the whole pipeline on one machine. Starts the receiver on the embedded
//! default (local landing folder), posts a generated customer change stream into it, loads
//! the landed files into the local warehouse (pipe → stream → SCD1/SCD2 tasks) while printing
//! a live summary, then checks the latest and history tables against the generator's oracle.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use generator::{Config, HttpSender, HttpTarget, Progress, ProgressDisplay};
use warehouse::{TableSpec, Warehouse};

use snowstream::config::args::{ListenerArgs, SpoolArgs, StreamArgs};
use snowstream::config::value::Dur;
use snowstream::{App, ServeArgs};

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Folder for this demo's spool, landed files and warehouse (emptied first).
    #[arg(long, default_value = "data/demo")]
    pub dir: PathBuf,
    /// Customers in the initial load.
    #[arg(long, default_value_t = 1_000)]
    pub customers: u64,
    /// Inserts, updates and deletes after the initial load.
    #[arg(long, default_value_t = 20_000)]
    pub changes: u64,
    /// Seed of the generator (same seed, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Records per second (0: as fast as acknowledged).
    #[arg(long, default_value_t = 5_000.0)]
    pub rate: f64,
    /// Records per request.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Body format: json, ndjson, csv or flowfile-v3.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// Close a landed file after this long (small, so the warehouse fills while you watch).
    #[arg(long, default_value = "1s")]
    pub batch_max_age: Dur,
    /// Keep serving after the check (the live page at /ui shows the warehouse too) until Ctrl-C.
    #[arg(long)]
    pub stay: bool,
    /// Listen here instead of a free port on 127.0.0.1 (e.g. 127.0.0.1:8080, to keep the page's URL).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

/// SCD2 versions the page lists.
const RECENT_VERSIONS_SQL: &str = "SELECT id, name, country, valid_from, valid_to, is_current, is_deleted \
    FROM customers_history ORDER BY valid_from DESC, id LIMIT 8";

/// The warehouse part of `/api/status`: counts and the latest SCD2 versions.
fn warehouse_status(wh: &Warehouse) -> Result<serde_json::Value> {
    let c = wh.counts()?;
    let q = wh.query(RECENT_VERSIONS_SQL)?;
    Ok(serde_json::json!({
        "db": wh.path().display().to_string(),
        "counts": { "raw": c.raw, "latest": c.latest, "history": c.history },
        "recent_versions": { "columns": q.columns, "rows": q.rows },
    }))
}

pub async fn run(args: DemoArgs) -> Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("emptying the demo folder {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let format: generator::Format = args
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;

    // 1. The receiver, on the embedded default: local folder sink, durable acks.
    let serve_args = ServeArgs {
        listener: ListenerArgs {
            listen: Some(args.listen.unwrap_or("127.0.0.1:0".parse()?)),
            ..ListenerArgs::default()
        },
        spool: SpoolArgs {
            data_dir: Some(args.dir.clone()),
            instance_id: Some("demo".into()),
            ..SpoolArgs::default()
        },
        stream: StreamArgs {
            batch_max_age: Some(args.batch_max_age),
            // The page shows the stream as fresh, or stale when posting stops for this long.
            stale_after: Some("30s".parse().map_err(|e| anyhow::anyhow!("{e}"))?),
            ..StreamArgs::default()
        },
        ..ServeArgs::default()
    };
    let settings = serve_args.resolve()?;
    let landing_dir = args.dir.join("landing");
    let shown: Arc<Mutex<Option<serde_json::Value>>> = Arc::default();
    let extra = {
        let shown = shown.clone();
        Arc::new(move || shown.lock().expect("lock").clone())
    };
    let running = App::builder(settings).status_extra(extra).start().await?;
    let url = format!("http://{}/contentListener/customers", running.addr());
    println!(
        "snowstream listening on http://{}  (landing folder: {})",
        running.addr(),
        landing_dir.display()
    );
    println!("live page: http://{}/ui", running.addr());

    // 2. The change stream and what the warehouse must end up holding.
    let cfg = Config {
        seed: args.seed,
        initial_customers: args.customers,
        changes: args.changes,
        ..Config::default()
    };
    let records = generator::generate(&cfg);
    let oracle = generator::oracle::compute(&records);
    let mut oracle_text = Vec::new();
    generator::oracle::write_ndjson(&oracle, &mut oracle_text)?;
    std::fs::write(args.dir.join("expected.ndjson"), &oracle_text)?;
    println!(
        "generator: {} change events (seed {}) for {} customers → expect {} latest rows, {} history rows",
        records.len(),
        args.seed,
        oracle.latest.len(),
        oracle.latest.len(),
        oracle.history.len()
    );

    // 3. Post them while the warehouse loads what lands.
    let mut target = HttpTarget::new(url.clone());
    target.format = format;
    target.batch_size = args.batch.max(1);
    target.rate = args.rate;
    target.concurrency = 4;
    let sender = Arc::new(HttpSender::new(target)?);
    let progress = Progress::new(Some(records.len() as u64), ProgressDisplay::Hidden);
    let batches: Vec<Vec<_>> = records
        .chunks(args.batch.max(1))
        .map(<[_]>::to_vec)
        .collect();
    let send = {
        let progress = progress.clone();
        tokio::spawn(async move {
            generator::send_batches(sender, batches, None, &progress, |_| {}).await
        })
    };

    let db = args.dir.join("warehouse.db");
    let mut wh = Warehouse::open(&db, &TableSpec::customers())?;
    let started = Instant::now();
    let mut files = 0usize;
    loop {
        let done = send.is_finished();
        if done {
            running.landing().flush().await;
        }
        let (load, _) = wh.sync(&landing_dir)?;
        files += load.files_loaded;
        let c = wh.counts()?;
        *shown.lock().expect("lock") = warehouse_status(&wh).ok();
        let s = progress.summary();
        println!(
            "[{:>5.1}s] acknowledged {:>7} records | landed files {:>4} | raw {:>7} | latest {:>6} | history {:>7} | rejected {:>4}",
            started.elapsed().as_secs_f64(),
            s.acknowledged,
            files,
            c.raw,
            c.latest,
            c.history,
            c.rejects
        );
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    send.await?.context("posting the change stream")?;
    let staying = if args.stay {
        Some(running)
    } else {
        running.stop().await?;
        None
    };

    // 4. The check: SCD1 and SCD2 equal the oracle, and replaying every file changes nothing.
    let diffs = wh.diff_against_oracle(std::str::from_utf8(&oracle_text)?)?;
    if !diffs.is_empty() {
        for d in diffs.iter().take(20) {
            eprintln!("  {d}");
        }
        bail!(
            "the warehouse does not match the generator's oracle ({} differences)",
            diffs.len()
        );
    }
    println!(
        "✔ {} latest rows and {} history rows match the generator's oracle ({})",
        oracle.latest.len(),
        oracle.history.len(),
        args.dir.join("expected.ndjson").display()
    );
    println!(
        "\nExplore it:\n  cargo run --release -- query --db {} \"SELECT id, name, country, is_deleted, updated_at FROM customers_latest LIMIT 10\"",
        db.display()
    );
    println!("  sqlite3 {} '.tables'", db.display());
    if let Some(running) = staying {
        println!(
            "\nServing the live page at http://{}/ui (and receiving at {url}) until Ctrl-C",
            running.addr()
        );
        let stop = snowstream::signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    // Whatever is posted meanwhile lands and loads too.
                    wh.sync(&landing_dir)?;
                    *shown.lock().expect("lock") = warehouse_status(&wh).ok();
                }
            }
        }
        running.stop().await?;
    }
    Ok(())
}
