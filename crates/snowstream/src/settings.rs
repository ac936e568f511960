//! `snowstream serve` settings: command-line flags and `SNOWSTREAM_*` environment variables
//! override an optional TOML file, which overrides the defaults.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;

/// Parses `128MiB`, `64MB`, `1000` (bytes).
fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("bad size {s:?}: {e}"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("bad duration {s:?}: {e}"))
}

#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// TOML file with these settings (and per-stream `[[streams]]` tables); flags and env win over it.
    #[arg(long, env = "SNOWSTREAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on. [NiFi ListenHTTP: Listening Port]
    #[arg(long, env = "SNOWSTREAM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory: spool in DATA_DIR/spool, local landing in DATA_DIR/landing. [default: ./data]
    #[arg(long, env = "SNOWSTREAM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Unique id of this instance, part of every landed file name. Run each instance with its own. [default: host name]
    #[arg(long, env = "SNOWSTREAM_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Path prefix of the receiver. [NiFi ListenHTTP: Base Path; default contentListener]
    #[arg(long, env = "SNOWSTREAM_BASE_PATH")]
    pub base_path: Option<String>,
    /// Status code for accepted requests. [NiFi ListenHTTP: Return Code; default 200]
    #[arg(long, env = "SNOWSTREAM_SUCCESS_CODE")]
    pub success_code: Option<u16>,
    /// Request headers whose names match become FlowFile attributes in landed metadata. [NiFi ListenHTTP: HTTP Headers to receive as Attributes (Regex)]
    #[arg(long, env = "SNOWSTREAM_HEADERS_AS_ATTRIBUTES")]
    pub headers_as_attributes: Option<String>,
    /// Largest request body after decompression (413 above). [default 256MiB]
    #[arg(long, env = "SNOWSTREAM_MAX_REQUEST_SIZE", value_parser = parse_size)]
    pub max_request_size: Option<u64>,
    /// Drop a two-phase hold not confirmed within this. [NiFi ListenHTTP: Max Unconfirmed Flowfile Time; default 60s]
    #[arg(long, env = "SNOWSTREAM_HOLD_TIMEOUT", value_parser = parse_duration)]
    pub hold_timeout: Option<Duration>,
    /// Require `Authorization: Bearer TOKEN` on ingest requests.
    #[arg(long, env = "SNOWSTREAM_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// PEM certificate chain: serve HTTPS. [NiFi ListenHTTP: SSL Context Service]
    #[arg(long, env = "SNOWSTREAM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "SNOWSTREAM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Stream for requests that name none (path or x-snowstream-stream header). [default customers]
    #[arg(long, env = "SNOWSTREAM_DEFAULT_STREAM")]
    pub default_stream: Option<String>,
    /// More streams to accept, comma-separated, with default settings (or configure them in the TOML file).
    #[arg(long, env = "SNOWSTREAM_STREAMS", value_delimiter = ',')]
    pub streams: Vec<String>,
    /// When to acknowledge: durable (fsync'd spool), landed (file in the sink), received (no fsync). [default durable]
    #[arg(long, env = "SNOWSTREAM_ACK")]
    pub ack: Option<String>,
    /// Record format when the content type does not say: json, ndjson or csv. [default json]
    #[arg(long, env = "SNOWSTREAM_DEFAULT_FORMAT")]
    pub default_format: Option<String>,
    /// Close a batch file at this many uncompressed bytes. [default 128MiB]
    #[arg(long, env = "SNOWSTREAM_BATCH_MAX_BYTES", value_parser = parse_size)]
    pub batch_max_bytes: Option<u64>,
    /// Close a batch file at this many records. [default 1000000]
    #[arg(long, env = "SNOWSTREAM_BATCH_MAX_RECORDS")]
    pub batch_max_records: Option<u64>,
    /// Close a batch file this long after it opened. [default 60s]
    #[arg(long, env = "SNOWSTREAM_BATCH_MAX_AGE", value_parser = parse_duration)]
    pub batch_max_age: Option<Duration>,
    /// Landed file compression: zstd[:level] or gzip[:level]. [default zstd:3]
    #[arg(long, env = "SNOWSTREAM_COMPRESSION")]
    pub compression: Option<String>,
    /// Refuse new records with 503 while this much waits in the spool. [default 1GiB]
    #[arg(long, env = "SNOWSTREAM_SPOOL_MAX_BYTES", value_parser = parse_size)]
    pub spool_max_bytes: Option<u64>,
    /// Where files land: local (a folder) or s3. [default local]
    #[arg(long, env = "SNOWSTREAM_SINK")]
    pub sink: Option<String>,
    /// Folder for --sink local. [default DATA_DIR/landing]
    #[arg(long, env = "SNOWSTREAM_LANDING_DIR")]
    pub landing_dir: Option<PathBuf>,
    /// Key prefix for landed files (both sinks), e.g. `raw`.
    #[arg(long, env = "SNOWSTREAM_PREFIX")]
    pub prefix: Option<String>,
    /// S3 bucket for --sink s3. [NiFi PutS3Object: Bucket]
    #[arg(long, env = "SNOWSTREAM_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Key prefix inside the bucket (same as --prefix).
    #[arg(long, env = "SNOWSTREAM_S3_PREFIX")]
    pub s3_prefix: Option<String>,
    /// S3-compatible endpoint (MinIO, LocalStack); implies path-style. [NiFi PutS3Object: Endpoint Override URL]
    #[arg(long, env = "SNOWSTREAM_S3_ENDPOINT_URL")]
    pub s3_endpoint_url: Option<String>,
    /// AWS region. [NiFi PutS3Object: Region; default from the AWS chain]
    #[arg(long, env = "SNOWSTREAM_S3_REGION")]
    pub s3_region: Option<String>,
    /// Log format: text or json. [default text]
    #[arg(long, env = "SNOWSTREAM_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// On SIGTERM, wait at most this long for the spool to land before exiting (the rest lands on next start). [default 30s]
    #[arg(long, env = "SNOWSTREAM_SHUTDOWN_TIMEOUT", value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    #[command(flatten)]
    pub s3_front: crate::s3_front::S3FrontArgs,
    #[command(flatten)]
    pub snowpipe: crate::pipe_cmd::SnowpipeArgs,
}

/// Per-stream table in the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamFile {
    pub name: String,
    pub prefix: Option<String>,
    pub format: Option<String>,
    pub ack: Option<String>,
    pub compression: Option<String>,
    pub batch_max_bytes: Option<String>,
    pub batch_max_records: Option<u64>,
    pub batch_max_age: Option<String>,
    /// Land S3 API objects of this stream whole under their own key instead of parsing them.
    pub pass_through: Option<bool>,
    /// This stream's Snowpipe (`DB.SCHEMA.PIPE`); account, user, key and URL are shared.
    pub snowpipe_pipe: Option<String>,
    /// Key prefix of this pipe's stage location. [default: the stream's prefix]
    pub snowpipe_strip_prefix: Option<String>,
}

/// The TOML file: the same names as the flags, with `-` as `_`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub instance_id: Option<String>,
    pub base_path: Option<String>,
    pub success_code: Option<u16>,
    pub headers_as_attributes: Option<String>,
    pub max_request_size: Option<String>,
    pub hold_timeout: Option<String>,
    pub auth_token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub default_stream: Option<String>,
    pub ack: Option<String>,
    pub default_format: Option<String>,
    pub batch_max_bytes: Option<String>,
    pub batch_max_records: Option<u64>,
    pub batch_max_age: Option<String>,
    pub compression: Option<String>,
    pub spool_max_bytes: Option<String>,
    pub sink: Option<String>,
    pub landing_dir: Option<PathBuf>,
    pub prefix: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_endpoint_url: Option<String>,
    pub s3_region: Option<String>,
    pub log_format: Option<String>,
    pub shutdown_timeout: Option<String>,
    pub snowpipe_account: Option<String>,
    pub snowpipe_user: Option<String>,
    pub snowpipe_private_key: Option<PathBuf>,
    /// The default stream's pipe (other streams set theirs in `[[streams]]`).
    pub snowpipe_pipe: Option<String>,
    pub snowpipe_url: Option<String>,
    pub snowpipe_strip_prefix: Option<String>,
    #[serde(default)]
    pub streams: Vec<StreamFile>,
    /// `[s3_api]`: the S3 API front door.
    pub s3_api: Option<crate::s3_front::S3ApiFile>,
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

/// Everything `serve` needs, resolved.
pub struct Settings {
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub landing: landing::LandingConfig,
    pub server: server::ServerConfig,
    pub sink: SinkSettings,
    pub log_json: bool,
    pub shutdown_timeout: Duration,
    /// The S3 API front door, when `--s3-listen` is set.
    pub s3_front: Option<crate::s3_front::S3FrontSettings>,
}

impl ServeArgs {
    pub fn resolve(mut self) -> Result<Settings> {
        // An empty environment variable (e.g. `SNOWSTREAM_S3_ENDPOINT_URL=` in an env file)
        // means "not set", not "set to nothing".
        for v in [
            &mut self.instance_id,
            &mut self.base_path,
            &mut self.headers_as_attributes,
            &mut self.auth_token,
            &mut self.default_stream,
            &mut self.ack,
            &mut self.default_format,
            &mut self.compression,
            &mut self.sink,
            &mut self.prefix,
            &mut self.s3_bucket,
            &mut self.s3_prefix,
            &mut self.s3_endpoint_url,
            &mut self.s3_region,
            &mut self.log_format,
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        let file: SettingsFile = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", p.display()))?
            }
            None => SettingsFile::default(),
        };
        let size = |flag: Option<u64>, file: &Option<String>, default: u64| -> Result<u64> {
            match (flag, file) {
                (Some(v), _) => Ok(v),
                (None, Some(s)) => parse_size(s).map_err(anyhow::Error::msg),
                (None, None) => Ok(default),
            }
        };
        let dur = |flag: Option<Duration>,
                   file: &Option<String>,
                   default: Duration|
         -> Result<Duration> {
            match (flag, file) {
                (Some(v), _) => Ok(v),
                (None, Some(s)) => parse_duration(s).map_err(anyhow::Error::msg),
                (None, None) => Ok(default),
            }
        };
        let data_dir = self
            .data_dir
            .or(file.data_dir.clone())
            .unwrap_or_else(|| "data".into());
        let default_stream = self
            .default_stream
            .or(file.default_stream.clone())
            .unwrap_or_else(|| "customers".into());
        let ack: landing::AckMode = self
            .ack
            .or(file.ack.clone())
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .transpose()?
            .unwrap_or_default();
        let compression: landing::Compression = self
            .compression
            .or(file.compression.clone())
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .transpose()?
            .unwrap_or_default();
        let default_format = parse_format(self.default_format.or(file.default_format.clone()))?;
        let prefix = self
            .prefix
            .or(self.s3_prefix)
            .or(file.prefix.clone())
            .unwrap_or_default()
            .trim_matches('/')
            .to_owned();
        let mut base = landing::StreamConfig::new(default_stream.clone());
        base.prefix = prefix;
        base.ack = ack;
        base.compression = compression;
        base.max_bytes = size(self.batch_max_bytes, &file.batch_max_bytes, base.max_bytes)?;
        base.max_records = self
            .batch_max_records
            .or(file.batch_max_records)
            .unwrap_or(base.max_records);
        base.max_age = dur(self.batch_max_age, &file.batch_max_age, base.max_age)?;

        let mut streams: Vec<landing::StreamConfig> = Vec::new();
        let mut formats = HashMap::new();
        let mut add = |sc: landing::StreamConfig, fmt: Option<records::Format>| {
            if let Some(f) = fmt.or(default_format) {
                formats.insert(sc.name.clone(), f);
            }
            match streams.iter_mut().find(|s| s.name == sc.name) {
                Some(s) => *s = sc,
                None => streams.push(sc),
            }
        };
        add(base.clone(), None);
        for name in self.streams.iter().filter(|n| !n.trim().is_empty()) {
            let mut sc = base.clone();
            sc.name = name.trim().to_owned();
            add(sc, None);
        }
        for sf in &file.streams {
            let mut sc = base.clone();
            sc.name = sf.name.clone();
            if let Some(p) = &sf.prefix {
                sc.prefix = p.trim_matches('/').to_owned();
            }
            if let Some(a) = &sf.ack {
                sc.ack = a.parse().map_err(anyhow::Error::msg)?;
            }
            if let Some(c) = &sf.compression {
                sc.compression = c.parse().map_err(anyhow::Error::msg)?;
            }
            sc.max_bytes = size(None, &sf.batch_max_bytes, sc.max_bytes)?;
            sc.max_records = sf.batch_max_records.unwrap_or(sc.max_records);
            sc.max_age = dur(None, &sf.batch_max_age, sc.max_age)?;
            add(sc, parse_format(sf.format.clone())?);
        }
        let mut own_pipes = Vec::new();
        for sf in &file.streams {
            match (&sf.snowpipe_pipe, &sf.snowpipe_strip_prefix) {
                (Some(pipe), strip) if !pipe.trim().is_empty() => {
                    own_pipes.push(crate::pipe_cmd::StreamPipe {
                        stream: sf.name.clone(),
                        pipe: pipe.trim().to_owned(),
                        strip_prefix: strip.clone(),
                    })
                }
                (_, Some(_)) => bail!(
                    "stream {:?}: snowpipe_strip_prefix needs snowpipe_pipe in the same [[streams]] table",
                    sf.name
                ),
                _ => {}
            }
        }
        let mut snowpipe = self.snowpipe.clone();
        let or_file = |flag: &mut Option<String>, file: &Option<String>| {
            if flag.as_deref().is_none_or(|v| v.trim().is_empty()) {
                flag.clone_from(file);
            }
        };
        or_file(&mut snowpipe.snowpipe_account, &file.snowpipe_account);
        or_file(&mut snowpipe.snowpipe_user, &file.snowpipe_user);
        or_file(&mut snowpipe.snowpipe_pipe, &file.snowpipe_pipe);
        or_file(&mut snowpipe.snowpipe_url, &file.snowpipe_url);
        or_file(
            &mut snowpipe.snowpipe_strip_prefix,
            &file.snowpipe_strip_prefix,
        );
        if snowpipe.snowpipe_private_key.is_none() {
            snowpipe
                .snowpipe_private_key
                .clone_from(&file.snowpipe_private_key);
        }
        snowpipe.apply(&mut streams, &default_stream, &own_pipes)?;

        let sink_kind = self
            .sink
            .or(file.sink.clone())
            .unwrap_or_else(|| "local".into());
        let sink = match sink_kind.as_str() {
            "local" => SinkSettings::Local {
                dir: self
                    .landing_dir
                    .or(file.landing_dir.clone())
                    .unwrap_or_else(|| data_dir.join("landing")),
            },
            "s3" => SinkSettings::S3 {
                bucket: self
                    .s3_bucket
                    .or(file.s3_bucket.clone())
                    .context("--sink s3 needs --s3-bucket (SNOWSTREAM_S3_BUCKET)")?,
                endpoint_url: self.s3_endpoint_url.or(file.s3_endpoint_url.clone()),
                region: self.s3_region.or(file.s3_region.clone()),
            },
            other => bail!("unknown sink {other:?} (expected local or s3)"),
        };
        let headers_re = self
            .headers_as_attributes
            .or(file.headers_as_attributes.clone())
            .map(|r| {
                regex::RegexBuilder::new(&format!("^(?:{r})$"))
                    .case_insensitive(true)
                    .build()
                    .with_context(|| format!("bad --headers-as-attributes regex {r:?}"))
            })
            .transpose()?;
        let defaults = server::ServerConfig::default();
        let server = server::ServerConfig {
            base_path: self
                .base_path
                .or(file.base_path.clone())
                .unwrap_or(defaults.base_path)
                .trim_matches('/')
                .to_owned(),
            success_code: self
                .success_code
                .or(file.success_code)
                .unwrap_or(defaults.success_code),
            headers_as_attributes: headers_re,
            max_request_bytes: size(
                self.max_request_size,
                &file.max_request_size,
                defaults.max_request_bytes,
            )?,
            hold_timeout: dur(self.hold_timeout, &file.hold_timeout, defaults.hold_timeout)?,
            max_hold_bytes: defaults.max_hold_bytes,
            auth_token: self
                .auth_token
                .or(file.auth_token.clone())
                .filter(|t| !t.is_empty()),
            default_stream,
            default_formats: formats,
            retry_after_secs: defaults.retry_after_secs,
        };
        if !(200..300).contains(&server.success_code) {
            bail!(
                "--success-code must be a 2xx status, got {}",
                server.success_code
            );
        }
        let tls = match (
            self.tls_cert.or(file.tls_cert.clone()),
            self.tls_key.or(file.tls_key.clone()),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("TLS needs both --tls-cert and --tls-key"),
        };
        let instance = self
            .instance_id
            .or(file.instance_id.clone())
            .unwrap_or_else(default_instance_id);
        let mut s3_front = crate::s3_front::resolve(
            self.s3_front,
            file.s3_api.clone(),
            &data_dir,
            &server,
            &streams,
        )?;
        if let Some(front) = &mut s3_front {
            front.config.pass_through = file
                .streams
                .iter()
                .filter(|sf| sf.pass_through == Some(true))
                .map(|sf| sf.name.clone())
                .collect();
        }
        Ok(Settings {
            s3_front,
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "0.0.0.0:8080".parse().expect("valid")),
            tls,
            landing: landing::LandingConfig {
                spool_dir: data_dir.join("spool"),
                instance,
                spool_max_bytes: size(self.spool_max_bytes, &file.spool_max_bytes, 1 << 30)?,
                streams,
            },
            server,
            sink,
            log_json: self
                .log_format
                .or(file.log_format.clone())
                .is_some_and(|f| f == "json"),
            shutdown_timeout: dur(
                self.shutdown_timeout,
                &file.shutdown_timeout,
                Duration::from_secs(30),
            )?,
        })
    }
}

fn parse_format(s: Option<String>) -> Result<Option<records::Format>> {
    s.map(|s| {
        records::Format::from_name(&s)
            .with_context(|| format!("unknown record format {s:?} (expected json, ndjson or csv)"))
    })
    .transpose()
}

/// The host name, cleaned to the characters allowed in file names.
fn default_instance_id() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "snowstream".into()
    } else {
        clean
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
