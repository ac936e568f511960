//! The `snowstream` command: `serve` runs the NiFi-compatible receiver; `healthcheck` probes
//! it (for Docker, whose slim images have no curl).

mod demo;
mod local;
mod pipe_cmd;
mod s3_front;
mod serve;
mod settings;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

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
    Serve(Box<settings::ServeArgs>),
    /// The whole pipeline on this machine: receiver + generator + local warehouse, checked against the oracle.
    Demo(demo::DemoArgs),
    /// Render the Snowflake SQL (stage, pipe, streams, SCD1/SCD2 tasks) for a table spec.
    Sql(local::SqlArgs),
    /// Run a read-only SQL query on the local warehouse (SQLite).
    Query(local::QueryArgs),
    /// Snowpipe's REST API on the local warehouse (`pipe serve`), for the REST-triggered pipeline.
    Pipe(pipe_cmd::PipeArgs),
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
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn install_metrics() -> Result<Arc<dyn Fn() -> String + Send + Sync>> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 60.0,
            ],
        )?
        .install_recorder()
        .context("installing the metrics recorder")?;
    Ok(Arc::new(move || handle.render()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
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
            let metrics = install_metrics()?;
            let running = serve::start(settings, Some(metrics)).await?;
            serve::signal().await;
            tracing::info!("shutdown requested");
            running.stop().await
        }
        Command::Demo(args) => {
            init_logging_default("warn");
            demo::run(args).await
        }
        Command::Sql(args) => local::sql(args),
        Command::Query(args) => local::query(args),
        Command::Pipe(args) => {
            init_logging(false);
            pipe_cmd::run(args).await
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
