//! Low-level layers → [`Settings`]: stacks flags/env over the file over the defaults, checks
//! what only makes sense together, and builds each library's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use server::s3::{BucketRoute, S3Config, S3Credential};

use super::ServeArgs;
use super::args::{Listener, S3Api, Sink, Snowpipe, Spool, Stream, StreamArgs};
use super::value::{LogFormat, SinkKind};

mod access;
mod instance;
use access::{auth_token, authorized_dn, basic_auth, client_authentication, metrics_token};

/// Everything the app starts from, resolved.
#[derive(Debug)]
pub struct Settings {
    /// The HTTP receiver's own settings (address, timeouts, …).
    pub listener: Listener,
    /// PEM certificate chain and key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Every stream with all its settings, the default stream first.
    pub streams: Vec<StreamSettings>,
    pub landing: landing::LandingConfig,
    pub server: server::ServerConfig,
    pub sink: SinkSettings,
    pub log_json: bool,
    pub shutdown_timeout: Duration,
    /// The S3 API front door, when `--s3-listen` is set.
    pub s3_front: Option<S3FrontSettings>,
    /// The staleness monitor: watched streams and the alert webhook.
    pub stale: landing::stale::StaleConfig,
    /// The data directory (`--data-dir`), where the default instance id is kept.
    pub data_dir: PathBuf,
}

impl Settings {
    /// Sets the default instance id when none was given: the one kept in the data directory,
    /// made there on first use (`instance-id`). [`crate::App::start`] calls it.
    pub fn settle_instance(&mut self) -> Result<()> {
        if self.landing.instance.is_empty() {
            let id = instance::default_instance_id(&self.data_dir, &instance::host_name())?;
            self.stale.instance = id.clone();
            self.landing.instance = id;
        }
        Ok(())
    }
}

/// One stream: its name and everything it has.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub name: String,
    pub settings: Stream,
}

/// Where landed files go.
#[derive(Debug, Clone)]
pub enum SinkSettings {
    Local {
        dir: PathBuf,
    },
    S3 {
        bucket: String,
        endpoint_url: Option<String>,
        region: Option<String>,
    },
}

/// Where the S3 API listens and how it behaves, when it is on.
#[derive(Debug)]
pub struct S3FrontSettings {
    pub listen: SocketAddr,
    pub config: S3Config,
}

pub(super) fn resolve(cli: ServeArgs) -> Result<Settings> {
    let file = match &cli.config {
        Some(path) => super::file::load(path)?,
        None => super::file::FileLayer::default(),
    };
    let mut cli_stream = cli.stream;
    // `--s3-prefix` is `--prefix` under its S3 name.
    cli_stream.prefix = super::value::pick(cli_stream.prefix, cli.sink.s3_prefix.clone());
    let mut file_stream = file.stream;
    file_stream.prefix = super::value::pick(file_stream.prefix, file.sink.s3_prefix.clone());

    let listener = cli.listener.or(file.listener).resolve();
    let spool = cli.spool.or(file.spool).resolve();
    let sink = cli.sink.or(file.sink).resolve();
    let snowpipe = cli.snowpipe.or(file.snowpipe).resolve();
    let s3_api = cli.s3_api.or(file.s3_api).resolve();
    let streams = streams(&spool, cli_stream.or(file_stream), file.streams)?;

    let server = server_config(&listener, &spool, &streams)?;
    let landing = landing::LandingConfig {
        spool_dir: spool.data_dir.join("spool"),
        // Empty (also `SNOWSTREAM_INSTANCE_ID=` in a compose file) means the default, which
        // `Settings::settle_instance` finds or makes in the data directory when the app starts:
        // resolving touches no file.
        instance: spool
            .instance_id
            .as_deref()
            .map_or(String::new(), |id| id.trim().to_owned()),
        spool_max_bytes: spool.spool_max_bytes.0,
        streams: landing_streams(&streams, &snowpipe)?,
    };
    let tls = match (listener.tls_cert.clone(), listener.tls_key.clone()) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("TLS needs both --tls-cert and --tls-key"),
    };
    if tls.is_none() && listener.http_protocols != super::value::HttpProtocols::Http1 {
        bail!("--http-protocols is negotiated over HTTPS (ALPN): set --tls-cert and --tls-key too");
    }
    client_authentication(&listener)?;
    let s3_front = s3_front(s3_api, &spool, &streams, &listener)?;
    let stale = landing::stale::StaleConfig {
        after: streams
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.settings.stale_after?.0)))
            .filter(|(_, after)| !after.is_zero())
            .collect(),
        webhook: spool.alert_webhook.clone(),
        instance: landing.instance.clone(),
    };
    Ok(Settings {
        stale,
        data_dir: spool.data_dir.clone(),
        listener,
        tls,
        landing,
        sink: sink_settings(sink, &spool)?,
        log_json: spool.log_format == LogFormat::Json,
        shutdown_timeout: spool.shutdown_timeout.0,
        s3_front,
        server,
        streams,
    })
}

/// The default stream, `--streams`, then the `[[streams]]` tables (a table for a stream
/// already listed replaces its settings). A top-level Snowpipe pipe is the default stream's
/// only, and a pipe's strip prefix goes with it: neither is inherited by other streams.
fn streams(
    spool: &Spool,
    top: StreamArgs,
    tables: Vec<(String, StreamArgs)>,
) -> Result<Vec<StreamSettings>> {
    let inherited = StreamArgs {
        snowpipe_pipe: None,
        snowpipe_strip_prefix: None,
        ..top.clone()
    };
    let mut out: Vec<StreamSettings> = Vec::new();
    let mut add = |name: &str, args: StreamArgs| {
        let s = StreamSettings {
            name: name.to_owned(),
            settings: args.resolve(),
        };
        match out.iter_mut().find(|o| o.name == s.name) {
            Some(o) => *o = s,
            None => out.push(s),
        }
    };
    add(&spool.default_stream, top.clone());
    for name in spool.streams.iter().flat_map(|l| &l.0) {
        add(name, inherited.clone());
    }
    for (name, table) in tables {
        let own_pipe = table
            .snowpipe_pipe
            .as_ref()
            .is_some_and(|p| !p.trim().is_empty());
        if table.snowpipe_strip_prefix.is_some() && !own_pipe {
            bail!(
                "stream {name:?}: snowpipe_strip_prefix needs snowpipe_pipe in the same [[streams]] table"
            );
        }
        let base = if name == spool.default_stream && !own_pipe {
            top.clone()
        } else {
            inherited.clone()
        };
        add(&name, table.or(base));
    }
    Ok(out)
}

fn server_config(
    listener: &Listener,
    spool: &Spool,
    streams: &[StreamSettings],
) -> Result<server::ServerConfig> {
    if !(200..300).contains(&listener.success_code) {
        bail!(
            "--success-code must be a 2xx status, got {}",
            listener.success_code
        );
    }
    let headers_as_attributes = listener
        .headers_as_attributes
        .as_ref()
        .map(|r| {
            regex::RegexBuilder::new(&format!("^(?:{r})$"))
                .case_insensitive(true)
                .build()
                .with_context(|| format!("bad --headers-as-attributes regex {r:?}"))
        })
        .transpose()?;
    Ok(server::ServerConfig {
        base_path: listener.base_path.trim_matches('/').to_owned(),
        success_code: listener.success_code,
        headers_as_attributes,
        max_request_bytes: listener.max_request_size.0,
        max_flowfiles_per_request: listener.max_flowfiles_per_request,
        max_attribute_bytes: listener.max_attribute_bytes.0,
        header_deny_list: listener
            .header_deny_list
            .0
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        hold_timeout: listener.hold_timeout.0,
        auth_token: auth_token(listener)?,
        basic_auth: basic_auth(listener)?,
        authorized_dn: authorized_dn(
            listener,
            "authorized-dn-pattern",
            &listener.authorized_dn_pattern,
        )?,
        authorized_issuer_dn: authorized_dn(
            listener,
            "authorized-issuer-dn-pattern",
            &listener.authorized_issuer_dn_pattern,
        )?,
        metrics_token: metrics_token(listener)?,
        max_holds: usize::try_from(listener.max_holds).unwrap_or(usize::MAX),
        max_hold_bytes: listener.max_hold_size.0,
        retry_after_secs: u32::try_from(listener.retry_after.0.as_secs().max(1))
            .unwrap_or(u32::MAX),
        body_budget: server::BodyBudget::new(listener.max_inflight_body_size.0),
        default_stream: spool.default_stream.clone(),
        streams: streams
            .iter()
            .map(|s| {
                let options = server::StreamOptions {
                    format: s.settings.format,
                    pass_through: s.settings.pass_through,
                    on_parse_error: s.settings.on_parse_error,
                    envelope: s.settings.envelope,
                };
                (s.name.clone(), options)
            })
            .collect(),
    })
}

fn landing_streams(
    streams: &[StreamSettings],
    snowpipe: &Snowpipe,
) -> Result<Vec<landing::StreamConfig>> {
    let pipes = streams
        .iter()
        .filter(|s| s.settings.snowpipe_pipe.is_some())
        .count();
    if pipes == 0
        && (snowpipe.snowpipe_account.is_some() || snowpipe.snowpipe_private_key.is_some())
    {
        bail!(
            "the Snowpipe notifier needs {} or snowpipe_pipe in a [[streams]] table",
            flag("snowpipe_pipe")
        );
    }
    streams
        .iter()
        .map(|s| {
            let st = &s.settings;
            let prefix = st
                .prefix
                .as_deref()
                .unwrap_or("")
                .trim_matches('/')
                .to_owned();
            let snowpipe = match &st.snowpipe_pipe {
                None => None,
                Some(pipe) => Some(snowpipe_config(snowpipe, pipe, st, (&prefix, &s.name))?),
            };
            Ok(landing::StreamConfig {
                prefix,
                max_bytes: st.batch_max_bytes.0,
                max_records: st.batch_max_records,
                max_age: st.batch_max_age.0,
                compression: st.compression,
                ack: st.ack,
                snowpipe,
                envelope: st.envelope,
                encode_concurrency: st.encode_concurrency as usize,
                ..landing::StreamConfig::new(s.name.clone())
            })
        })
        .collect()
}

fn snowpipe_config(
    sp: &Snowpipe,
    pipe: &str,
    stream: &Stream,
    (prefix, name): (&str, &str),
) -> Result<landing::notify::SnowpipeConfig> {
    let need = |v: Option<&str>, id: &str| -> Result<String> {
        v.map(str::to_owned)
            .with_context(|| format!("the Snowpipe notifier needs {}", flag(id)))
    };
    let account = need(sp.snowpipe_account.as_deref(), "snowpipe_account")?;
    let user = need(sp.snowpipe_user.as_deref(), "snowpipe_user")?;
    let key = sp.snowpipe_private_key.clone().with_context(|| {
        format!(
            "the Snowpipe notifier needs {}",
            flag("snowpipe_private_key")
        )
    })?;
    let mut cfg = landing::notify::SnowpipeConfig::new(account, user, key, pipe.trim());
    cfg.url = sp.snowpipe_url.clone();
    // insertFiles paths are relative to the pipe's COPY location, which the rendered pipe
    // puts at the stream's folder of the stage: `FROM @stage/{stream}/`.
    cfg.strip_prefix = match &stream.snowpipe_strip_prefix {
        Some(p) => p.trim_matches('/').to_owned(),
        None => [prefix.trim_matches('/'), name]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/"),
    };
    Ok(cfg)
}

fn sink_settings(sink: Sink, spool: &Spool) -> Result<SinkSettings> {
    Ok(match sink.sink {
        SinkKind::Local => SinkSettings::Local {
            dir: sink
                .landing_dir
                .unwrap_or_else(|| spool.data_dir.join("landing")),
        },
        SinkKind::S3 => SinkSettings::S3 {
            bucket: sink
                .s3_bucket
                .with_context(|| format!("--sink s3 needs {}", flag("s3_bucket")))?,
            endpoint_url: sink.s3_endpoint_url,
            region: sink.s3_region,
        },
    })
}

/// The S3 API's own settings; what it shares with the HTTP receiver (request limits, each
/// stream's format and pass-through) is in [`server::ServerConfig`], given to both.
fn s3_front(
    api: S3Api,
    spool: &Spool,
    streams: &[StreamSettings],
    listener: &Listener,
) -> Result<Option<S3FrontSettings>> {
    let Some(listen) = api.s3_listen else {
        return Ok(None);
    };
    let creds = api.s3_credentials.map(|l| l.0).unwrap_or_default();
    anyhow::ensure!(
        !creds.is_empty(),
        "--s3-listen needs {}, e.g. AKIDNIFI:secret",
        flag("s3_credentials")
    );
    let mut config = S3Config::new(spool.data_dir.join("s3-uploads"));
    config.credentials = creds
        .iter()
        .map(|c| S3Credential::parse(c).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()
        .context("--s3-credentials")?;
    for c in &config.credentials {
        access::not_a_placeholder(
            &c.secret_key,
            &format!("the secret of {} in --s3-credentials", c.access_key),
        )?;
    }
    config.routes = match api.s3_buckets {
        None => streams
            .iter()
            .map(|s| BucketRoute {
                bucket: s.name.clone(),
                prefix: String::new(),
                stream: s.name.clone(),
            })
            .collect(),
        Some(list) => list
            .0
            .iter()
            .map(|b| BucketRoute::parse(b).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()
            .context("--s3-buckets")?,
    };
    config.region = api.s3_listen_region;
    config.upload_max_age = api.s3_upload_max_age.0;
    config.header_read_timeout = listener.header_read_timeout.0;
    config.max_connections = usize::try_from(listener.max_connections).unwrap_or(usize::MAX);
    config.max_open_uploads = usize::try_from(api.s3_max_open_uploads).unwrap_or(usize::MAX);
    config.body_read_timeout = listener.body_read_timeout.0;
    config.tls = match (api.s3_api_tls_cert, api.s3_api_tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => bail!("TLS on the S3 API needs both --s3-api-tls-cert and --s3-api-tls-key"),
    };
    config.max_parts_bytes = spool.spool_max_bytes.0;
    Ok(Some(S3FrontSettings { listen, config }))
}

/// How to set a setting, from its declaration: `--flag (ENV, or key in the TOML file)`.
fn flag(id: &str) -> String {
    use clap::CommandFactory;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }
    let cmd = Cli::command();
    let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == id) else {
        return format!("`{id}`");
    };
    let long = arg.get_long().unwrap_or(id);
    let env = arg
        .get_env()
        .map(|e| format!("{}, or ", e.to_string_lossy()))
        .unwrap_or_default();
    let key = match id.strip_prefix("s3_") {
        Some(k) if ["listen", "credentials", "buckets"].contains(&k) => format!("{k} in [s3_api]"),
        _ => id.to_owned(),
    };
    format!("--{long} ({env}{key} in the TOML file)")
}
