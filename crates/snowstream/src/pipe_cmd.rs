//! Snowpipe REST on both ends: `--snowpipe-*` flags of `snowstream serve` (notify a pipe after
//! each landed file) and `snowstream pipe serve` (the embedded warehouse answering Snowpipe's
//! REST API over a landing folder, so the REST-triggered pipeline runs on one machine).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use snowpipe::Verifier;
use warehouse::Warehouse;
use warehouse::rest::{PipeConfig, PipeService};

/// `snowstream serve` flags for the Snowpipe REST notifier (the pipe is the default stream's;
/// other streams name theirs in their `[[streams]]` table).
#[derive(Debug, Clone, Default, Args)]
pub struct SnowpipeArgs {
    /// Snowflake account identifier (e.g. myorg-myaccount, or xy12345.eu-central-1): notify Snowpipe after each landed file.
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_ACCOUNT")]
    pub snowpipe_account: Option<String>,
    /// Snowflake user whose RSA_PUBLIC_KEY matches --snowpipe-private-key.
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_USER")]
    pub snowpipe_user: Option<String>,
    /// Unencrypted RSA private key PEM (PKCS#8 or PKCS#1) for key-pair authentication.
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_PRIVATE_KEY")]
    pub snowpipe_private_key: Option<PathBuf>,
    /// Fully qualified pipe name, DB.SCHEMA.PIPE (case-sensitive).
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_PIPE")]
    pub snowpipe_pipe: Option<String>,
    /// Base URL of the REST API. [default https://ACCOUNT.snowflakecomputing.com; `snowstream pipe serve`: http://127.0.0.1:PORT]
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_URL")]
    pub snowpipe_url: Option<String>,
    /// Key prefix of the stage location, removed from landed keys in insertFiles. [default: --prefix]
    #[arg(long, env = "SNOWSTREAM_SNOWPIPE_STRIP_PREFIX")]
    pub snowpipe_strip_prefix: Option<String>,
}

/// A flag's value unless unset or blank (an empty env variable means unset).
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// A stream's own pipe, from the `snowpipe_pipe` / `snowpipe_strip_prefix` keys of its
/// `[[streams]]` table. Account, user, key and URL are shared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPipe {
    pub stream: String,
    pub pipe: String,
    pub strip_prefix: Option<String>,
}

impl SnowpipeArgs {
    /// Sets the notifier on the default stream when a pipe is given (flag or top-level
    /// TOML key), and on each stream of `own` with its own pipe; a stream's own pipe wins.
    pub fn apply(
        &self,
        streams: &mut [landing::StreamConfig],
        default_stream: &str,
        own: &[StreamPipe],
    ) -> Result<()> {
        let mut targets: Vec<StreamPipe> = Vec::new();
        if let Some(pipe) = set(&self.snowpipe_pipe) {
            targets.push(StreamPipe {
                stream: default_stream.to_owned(),
                pipe: pipe.to_owned(),
                strip_prefix: set(&self.snowpipe_strip_prefix).map(str::to_owned),
            });
        }
        for o in own {
            targets.retain(|t| t.stream != o.stream);
            targets.push(o.clone());
        }
        if targets.is_empty() {
            if set(&self.snowpipe_account).is_some() || self.snowpipe_private_key.is_some() {
                bail!(
                    "the Snowpipe notifier needs --snowpipe-pipe (SNOWSTREAM_SNOWPIPE_PIPE) or snowpipe_pipe in a [[streams]] table"
                );
            }
            return Ok(());
        }
        let account = set(&self.snowpipe_account).context(
            "the Snowpipe notifier needs --snowpipe-account (SNOWSTREAM_SNOWPIPE_ACCOUNT, or snowpipe_account in the TOML file)",
        )?;
        let user = set(&self.snowpipe_user).context(
            "the Snowpipe notifier needs --snowpipe-user (SNOWSTREAM_SNOWPIPE_USER, or snowpipe_user in the TOML file)",
        )?;
        let key = self.snowpipe_private_key.clone().context(
            "the Snowpipe notifier needs --snowpipe-private-key (SNOWSTREAM_SNOWPIPE_PRIVATE_KEY, or snowpipe_private_key in the TOML file)",
        )?;
        for t in targets {
            let stream = streams
                .iter_mut()
                .find(|s| s.name == t.stream)
                .with_context(|| {
                    format!(
                        "Snowpipe pipe {:?} is set for stream {:?}, which is not configured",
                        t.pipe, t.stream
                    )
                })?;
            let mut cfg =
                landing::notify::SnowpipeConfig::new(account, user, key.clone(), t.pipe.as_str());
            cfg.url = set(&self.snowpipe_url).map(str::to_owned);
            cfg.strip_prefix = t
                .strip_prefix
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.trim_matches('/').to_owned())
                .unwrap_or_else(|| stream.prefix.clone());
            stream.snowpipe = Some(cfg);
        }
        Ok(())
    }
}

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
    /// The folder insertFiles paths are relative to (the stage location), e.g. data/landing.
    #[arg(long, default_value = "data/landing")]
    pub landing_dir: PathBuf,
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
    let spec = crate::local::load_spec(a.spec.as_ref())?;
    let public = std::fs::read(&a.public_key)
        .with_context(|| format!("reading the public key {}", a.public_key.display()))?;
    let verifier = Verifier::new(&public, a.account.as_deref(), a.user.as_deref())
        .with_context(|| format!("public key {}", a.public_key.display()))?;
    let fingerprint = verifier.fingerprint().to_owned();
    let wh = Warehouse::open(&a.db, &spec)?;
    let service = PipeService::new(
        wh,
        PipeConfig {
            landing_dir: a.landing_dir.clone(),
            verifier,
            pipe: a.pipe.clone(),
            run_tasks: !a.no_tasks,
        },
    )?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %a.db.display(), landing_dir = %a.landing_dir.display(), %fingerprint,
        pipe = a.pipe.as_deref().unwrap_or("(any)"), "serving the Snowpipe REST API");
    axum::serve(listener, warehouse::rest::router(service))
        .with_graceful_shutdown(crate::serve::signal())
        .await
        .context("serving the Snowpipe REST API")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_the_default_streams_notifier() {
        let mut streams = vec![
            landing::StreamConfig::new("customers"),
            landing::StreamConfig::new("orders"),
        ];
        streams[0].prefix = "raw".into();
        let args = SnowpipeArgs {
            snowpipe_account: Some("xy12345.eu-central-1".into()),
            snowpipe_user: Some("loader".into()),
            snowpipe_private_key: Some("/keys/rsa_key.p8".into()),
            snowpipe_pipe: Some("DB.RAW.P".into()),
            ..SnowpipeArgs::default()
        };
        args.apply(&mut streams, "customers", &[]).unwrap();
        let sp = streams[0].snowpipe.as_ref().unwrap();
        assert_eq!(sp.pipe, "DB.RAW.P");
        assert_eq!(sp.strip_prefix, "raw");
        assert_eq!(
            sp.base_url(),
            "https://xy12345.eu-central-1.snowflakecomputing.com"
        );
        assert!(streams[1].snowpipe.is_none());

        let missing_user = SnowpipeArgs {
            snowpipe_user: None,
            ..args.clone()
        };
        let err = missing_user
            .apply(&mut streams, "customers", &[])
            .unwrap_err();
        assert!(err.to_string().contains("--snowpipe-user"), "{err}");
        let no_pipe = SnowpipeArgs {
            snowpipe_pipe: None,
            ..args
        };
        assert!(no_pipe.apply(&mut streams, "customers", &[]).is_err());
        SnowpipeArgs::default()
            .apply(&mut streams, "customers", &[])
            .unwrap();
    }
}
