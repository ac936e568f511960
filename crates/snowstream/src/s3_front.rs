//! `snowstream serve --s3-listen`: the S3 API front door's settings and its listener.
//! Off unless an address is given. Buckets map to streams; credentials are access key →
//! secret pairs, each optionally limited to some buckets.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use server::s3::{BucketRoute, S3Config, S3Credential, S3Server};

#[derive(Debug, Clone, Args, Default)]
pub struct S3FrontArgs {
    /// Also serve the S3 API (path-style, SigV4) on this address, e.g. 0.0.0.0:9000. [default off; NiFi PutS3Object: Endpoint Override URL]
    #[arg(long, env = "SNOWSTREAM_S3_LISTEN")]
    pub s3_listen: Option<SocketAddr>,
    /// S3 API credentials, comma-separated ACCESS_KEY:SECRET_KEY[:bucket1|bucket2] (no buckets: all). [NiFi PutS3Object: Access Key ID / Secret Access Key]
    #[arg(
        long,
        env = "SNOWSTREAM_S3_CREDENTIALS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub s3_credentials: Vec<String>,
    /// Buckets of the S3 API, comma-separated BUCKET[/KEY_PREFIX]=STREAM. [default: one bucket per stream, named like it; NiFi PutS3Object: Bucket]
    #[arg(long, env = "SNOWSTREAM_S3_BUCKETS", value_delimiter = ',')]
    pub s3_buckets: Vec<String>,
    /// Region the S3 API reports for its buckets (clients may sign with any). [default us-east-1]
    #[arg(long, env = "SNOWSTREAM_S3_LISTEN_REGION")]
    pub s3_listen_region: Option<String>,
    /// Remove incomplete multipart uploads this old. [default 7d]
    #[arg(long, env = "SNOWSTREAM_S3_UPLOAD_MAX_AGE", value_parser = parse_duration)]
    pub s3_upload_max_age: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("bad duration {s:?}: {e}"))
}

/// The `[s3_api]` table of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3ApiFile {
    pub listen: Option<SocketAddr>,
    #[serde(default)]
    pub credentials: Vec<String>,
    #[serde(default)]
    pub buckets: Vec<String>,
    pub region: Option<String>,
    pub upload_max_age: Option<String>,
}

/// Where to listen and how to behave, when the S3 API is on.
#[derive(Debug)]
pub struct S3FrontSettings {
    pub listen: SocketAddr,
    pub config: S3Config,
}

/// Flags and env win over the file. `None` when no listen address is set.
pub fn resolve(
    args: S3FrontArgs,
    file: Option<S3ApiFile>,
    data_dir: &Path,
    server: &server::ServerConfig,
    streams: &[landing::StreamConfig],
) -> Result<Option<S3FrontSettings>> {
    let file = file.unwrap_or_default();
    let Some(listen) = args.s3_listen.or(file.listen) else {
        return Ok(None);
    };
    let nonempty = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let creds = nonempty(args.s3_credentials);
    let creds = if creds.is_empty() {
        nonempty(file.credentials)
    } else {
        creds
    };
    anyhow::ensure!(
        !creds.is_empty(),
        "--s3-listen needs --s3-credentials (SNOWSTREAM_S3_CREDENTIALS), e.g. AKIDNIFI:secret"
    );
    let buckets = nonempty(args.s3_buckets);
    let buckets = if buckets.is_empty() {
        nonempty(file.buckets)
    } else {
        buckets
    };
    let mut config = S3Config::new(data_dir.join("s3-uploads"));
    config.credentials = creds
        .iter()
        .map(|c| S3Credential::parse(c).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()
        .context("--s3-credentials")?;
    config.routes = if buckets.is_empty() {
        streams
            .iter()
            .map(|s| BucketRoute {
                bucket: s.name.clone(),
                prefix: String::new(),
                stream: s.name.clone(),
            })
            .collect()
    } else {
        buckets
            .iter()
            .map(|b| BucketRoute::parse(b).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()
            .context("--s3-buckets")?
    };
    if let Some(r) = args.s3_listen_region.or(file.region) {
        config.region = r;
    }
    if let Some(age) = args.s3_upload_max_age {
        config.upload_max_age = age;
    } else if let Some(age) = &file.upload_max_age {
        config.upload_max_age = parse_duration(age).map_err(anyhow::Error::msg)?;
    }
    config.max_object_bytes = server.max_request_bytes;
    config.retry_after_secs = server.retry_after_secs;
    config.default_formats = server.default_formats.clone();
    Ok(Some(S3FrontSettings { listen, config }))
}

/// Starts the S3 API over `landing` when it is configured.
pub async fn start(
    settings: Option<S3FrontSettings>,
    landing: Arc<landing::Landing>,
) -> Result<Option<S3Server>> {
    let Some(s) = settings else {
        return Ok(None);
    };
    let buckets: Vec<String> = s
        .config
        .routes
        .iter()
        .map(|r| match r.prefix.as_str() {
            "" => format!("{}={}", r.bucket, r.stream),
            p => format!("{}/{p}={}", r.bucket, r.stream),
        })
        .collect();
    let server = S3Server::start(s.listen, landing, s.config)
        .await
        .context("starting the S3 API")?;
    tracing::info!(addr = %server.addr, ?buckets, "S3 API listening");
    Ok(Some(server))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams() -> Vec<landing::StreamConfig> {
        vec![
            landing::StreamConfig::new("customers"),
            landing::StreamConfig::new("orders"),
        ]
    }

    #[test]
    fn off_unless_an_address_is_given() {
        let r = resolve(
            S3FrontArgs::default(),
            None,
            Path::new("data"),
            &server::ServerConfig::default(),
            &streams(),
        )
        .unwrap();
        assert!(r.is_none());
    }

    #[test]
    fn flags_win_over_the_file_and_buckets_default_to_streams() {
        let args = S3FrontArgs {
            s3_listen: Some("127.0.0.1:9000".parse().unwrap()),
            s3_credentials: vec!["AK:SECRET:customers".into()],
            ..S3FrontArgs::default()
        };
        let file = S3ApiFile {
            credentials: vec!["FILEAK:FILESECRET".into()],
            upload_max_age: Some("2h".into()),
            region: Some("eu-west-1".into()),
            ..S3ApiFile::default()
        };
        let s = resolve(
            args,
            Some(file),
            Path::new("/var/ss"),
            &server::ServerConfig::default(),
            &streams(),
        )
        .unwrap()
        .expect("on");
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.config.credentials.len(), 1);
        assert_eq!(s.config.credentials[0].access_key, "AK");
        assert_eq!(s.config.credentials[0].buckets, ["customers"]);
        let buckets: Vec<_> = s
            .config
            .routes
            .iter()
            .map(|r| (&*r.bucket, &*r.stream))
            .collect();
        assert_eq!(buckets, [("customers", "customers"), ("orders", "orders")]);
        assert_eq!(s.config.upload_max_age, Duration::from_secs(7200));
        assert_eq!(s.config.region, "eu-west-1");
        assert_eq!(s.config.uploads_dir, Path::new("/var/ss/s3-uploads"));
    }

    #[test]
    fn needs_credentials_and_valid_routes() {
        let args = S3FrontArgs {
            s3_listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..S3FrontArgs::default()
        };
        let cfg = server::ServerConfig::default();
        let e = resolve(args.clone(), None, Path::new("d"), &cfg, &streams()).unwrap_err();
        assert!(e.to_string().contains("--s3-credentials"), "{e}");
        let args = S3FrontArgs {
            s3_credentials: vec!["AK:S".into()],
            s3_buckets: vec!["raw".into()],
            ..args
        };
        assert!(resolve(args, None, Path::new("d"), &cfg, &streams()).is_err());
    }
}
