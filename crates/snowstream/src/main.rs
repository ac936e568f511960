//! The `snowstream` command: `serve` runs the NiFi-compatible receiver; `healthcheck` probes
//! it (for Docker, whose slim images have no curl).

mod cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use snowstream::{App, ServeArgs};

use cli::{demo, pipe, query, sql};

/// mimalloc, not glibc malloc: per-request allocations (headers, attributes, batches) were
/// ~19% of the receiver's CPU under glibc (docs/performance.md). The benchmark uses the same.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "snowstream",
    version,
    about = "Receive NiFi records over HTTP, batch them durably into Snowpipe-sized files, land them in S3 or a folder"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the receiver (ListenHTTP-compatible endpoint) and the landing writer.
    Serve(Box<ServeArgs>),
    /// The whole pipeline on this machine: receiver + generator + local warehouse, checked against the oracle.
    Demo(demo::DemoArgs),
    /// Render the Snowflake SQL (stage, pipe, streams, SCD1/SCD2 tasks) for a table spec.
    Sql(sql::SqlArgs),
    /// Run a read-only SQL query on the local warehouse (SQLite).
    Query(query::QueryArgs),
    /// Snowpipe's REST API on the local warehouse (`pipe serve`), for the REST-triggered pipeline.
    Pipe(pipe::PipeArgs),
    /// Exit 0 when the receiver at URL answers its healthcheck.
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthcheck")]
        url: String,
    },
}

fn init_logging(json: bool) {
    init_logging_with(json, "info");
}

fn init_logging_default(level: &str) {
    init_logging_with(false, level);
}

fn init_logging_with(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr on a full disk, a closed
        // pipe) is dropped: the default reports it with `eprintln!`, which
        // panics the task that logged and would stop landing.
        .log_internal_errors(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The command line, with each `serve` setting's declared default in its help.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command().mut_subcommand("serve", snowstream::config::defaults_in_help);
    Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit())
}

fn main() -> std::process::ExitCode {
    snowstream::allocator::tune();
    // SAFETY: no other thread exists yet (the runtime starts below).
    unsafe { snowstream::config::unset_blank_env() };
    let cli = parse_cli();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = args.resolve()?;
            init_logging(settings.log_json);
            let running = App::start(settings).await?;
            snowstream::signal().await;
            tracing::info!("shutdown requested");
            running.stop().await
        }
        Command::Demo(args) => {
            init_logging_default("warn");
            demo::run(args).await
        }
        Command::Sql(args) => sql::sql(args),
        Command::Query(args) => query::query(args),
        Command::Pipe(args) => {
            init_logging(false);
            pipe::run(args).await
        }
        Command::Healthcheck { url } => {
            let resp = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .with_context(|| format!("GET {url}"))?;
            anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
            Ok(())
        }
    }
}
