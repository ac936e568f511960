//! The S3 API front door: enough of the S3 REST API (AWS Signature V4, path-style) that
//! NiFi's PutS3Object, the AWS CLI and the SDKs can "upload" objects to snowstream. Each
//! object is parsed into records and appended to the durable spool like an HTTP request;
//! nothing is stored as an object. Buckets (or bucket + key prefix) map to streams. A
//! pass-through stream instead lands each object whole, under its own key, in the sink.

mod auth;
mod chunked;
mod config;
mod digest;
mod error;
mod gate;
mod object;
mod ops;
mod room;
mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use s3s::service::{S3Service, S3ServiceBuilder};

use crate::listener::{self, ListenError, Options, Serving, TlsOptions};

pub use config::{BucketRoute, S3Config, S3Credential};

/// Why the S3 front door could not start.
#[derive(Debug, thiserror::Error)]
pub enum S3SetupError {
    #[error("S3 front door: {0}")]
    Config(String),
    #[error("S3 multipart upload directory {path}: {source}")]
    Uploads {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("S3 front door")]
    Listen(#[from] ListenError),
}

/// Builds the s3s service (a hyper/tower service) over `landing`. Starts the task that
/// removes expired multipart uploads; must be called inside a tokio runtime.
pub fn service(
    landing: Arc<landing::Landing>,
    config: S3Config,
    shared: crate::ServerConfig,
) -> Result<S3Service, S3SetupError> {
    if config.credentials.is_empty() {
        return Err(S3SetupError::Config(
            "no credentials configured (access key:secret pairs)".into(),
        ));
    }
    if config.routes.is_empty() {
        return Err(S3SetupError::Config(
            "no bucket is mapped to a stream".into(),
        ));
    }
    for r in &config.routes {
        if !landing.has_stream(&r.stream) {
            return Err(S3SetupError::Config(format!(
                "bucket {:?} is mapped to stream {:?}, which is not configured",
                r.bucket, r.stream
            )));
        }
    }
    let uploads = uploads::Uploads::open(config.uploads_dir.clone()).map_err(|source| {
        S3SetupError::Uploads {
            path: config.uploads_dir.display().to_string(),
            source,
        }
    })?;
    let config = Arc::new(config);
    let front = Arc::new(ops::Front {
        landing,
        config: config.clone(),
        shared: Arc::new(shared),
        uploads,
        started: std::time::SystemTime::now(),
        completing: ops::Completing::default(),
        room: room::PartRoom::default(),
    });
    let weak = Arc::downgrade(&front);
    let max_age = config.upload_max_age;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(
            Duration::from_secs(60).min(max_age / 2 + Duration::from_millis(100)),
        );
        loop {
            tick.tick().await;
            let Some(front) = weak.upgrade() else { break };
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = front.uploads.expire(max_age) {
                    tracing::warn!(error = %e, "could not remove expired multipart uploads");
                }
            })
            .await;
        }
    });
    let mut builder = S3ServiceBuilder::new(ops::Handler(front));
    builder.set_auth(auth::Keys(config.clone()));
    builder.set_access(auth::Buckets(config));
    Ok(builder.build())
}

/// The message of a body that stalled past the body read timeout (answered `RequestTimeout`).
pub(crate) use crate::listener::BODY_STALLED;

/// A running S3 front door on its own task.
pub struct S3Server {
    pub addr: SocketAddr,
    serving: Serving,
}

impl S3Server {
    /// Binds `addr` and serves the front door over `landing`, on the listener stack of both
    /// doors (HTTP/1.1 only over TLS, as Amazon S3 answers: an SDK that offers h2 first gets
    /// the protocol it gets from S3).
    pub async fn start(
        addr: SocketAddr,
        landing: Arc<landing::Landing>,
        config: S3Config,
        shared: crate::ServerConfig,
    ) -> Result<S3Server, S3SetupError> {
        let options = Options {
            name: "s3",
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            body_read_timeout: config.body_read_timeout,
            header_case: false,
            tls: config.tls.clone().map(|(cert, key)| TlsOptions {
                cert,
                key,
                alpn: vec![b"http/1.1".to_vec()],
                client_ca: None,
                client_cert_required: false,
            }),
        };
        let service = service(landing, config, shared)?;
        let service = gate::Gate(service);
        let serving = listener::serve(addr, tower::make::Shared::new(service), options)?;
        Ok(S3Server {
            addr: serving.addr(),
            serving,
        })
    }

    /// Stops accepting and waits for open requests (up to [`listener::DRAIN`]).
    pub async fn stop(mut self) {
        self.serving.stop().await;
    }
}
