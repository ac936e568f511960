//! `snowstream pipe serve`: the embedded warehouse answering Snowpipe's REST API over a
//! landing folder, so the REST-triggered pipeline runs on one machine. (The notifier's
//! settings, `--snowpipe-*`, are in the config model with the rest of `serve`.)

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use snowpipe::Verifier;
use warehouse::Warehouse;
use warehouse::rest::{PipeConfig, PipeService};

#[derive(Debug, Clone, Args)]
pub struct PipeArgs {
    #[command(subcommand)]
    pub command: PipeCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PipeCommand {
    /// Serve Snowpipe's REST API (insertFiles, insertReport, loadHistoryScan) over the local warehouse.
    Serve(PipeServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PipeServeArgs {
    /// The local warehouse (SQLite) to load into.
    #[arg(long, default_value = "data/warehouse.db")]
    pub db: PathBuf,
    /// Table spec (TOML). [default: the built-in customers spec]
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The stage: the folder the landed files are in, e.g. data/landing.
    #[arg(long, default_value = "data/landing")]
    pub landing_dir: PathBuf,
    /// Where in the stage the pipe reads (its COPY statement's `FROM @stage/LOCATION/`):
    /// insertFiles paths are relative to it. [default: the spec's stream, as the rendered pipe]
    #[arg(long)]
    pub location: Option<String>,
    /// The user's RSA public key: PEM (openssl rsa -in rsa_key.p8 -pubout) or its bare base64.
    #[arg(long)]
    pub public_key: PathBuf,
    /// Accept only tokens for this account (and --user).
    #[arg(long, requires = "user")]
    pub account: Option<String>,
    /// Accept only tokens for this user (and --account).
    #[arg(long, requires = "account")]
    pub user: Option<String>,
    /// Serve only this pipe name (any name when unset).
    #[arg(long)]
    pub pipe: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Do not run the SCD1/SCD2 tasks after loads (load the raw table only).
    #[arg(long)]
    pub no_tasks: bool,
}

pub async fn run(args: PipeArgs) -> Result<()> {
    match args.command {
        PipeCommand::Serve(a) => serve(a).await,
    }
}

async fn serve(a: PipeServeArgs) -> Result<()> {
    let spec = super::load_spec(a.spec.as_ref())?;
    let public = std::fs::read(&a.public_key)
        .with_context(|| format!("reading the public key {}", a.public_key.display()))?;
    let verifier = Verifier::new(&public, a.account.as_deref(), a.user.as_deref())
        .with_context(|| format!("public key {}", a.public_key.display()))?;
    let fingerprint = verifier.fingerprint().to_owned();
    let location = a.location.clone().unwrap_or_else(|| spec.stream.clone());
    let wh = Warehouse::open(&a.db, &spec)?;
    let service = PipeService::new(
        wh,
        PipeConfig {
            landing_dir: a.landing_dir.clone(),
            location: location.clone(),
            verifier,
            pipe: a.pipe.clone(),
            run_tasks: !a.no_tasks,
        },
    )?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %a.db.display(), landing_dir = %a.landing_dir.display(), %location, %fingerprint,
        pipe = a.pipe.as_deref().unwrap_or("(any)"), "serving the Snowpipe REST API");
    axum::serve(listener, warehouse::rest::router(service))
        .with_graceful_shutdown(snowstream::signal())
        .await
        .context("serving the Snowpipe REST API")?;
    Ok(())
}
