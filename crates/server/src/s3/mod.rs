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
mod object;
mod ops;
mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::Accept as _;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;

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

/// How [`serve`] treats connections.
struct ConnOptions {
    /// A connection whose request headers (or TLS handshake) are not complete this long after
    /// it opened, or after its previous request, is closed.
    header_read_timeout: Duration,
    max_connections: usize,
    /// A request body that sends nothing this long fails.
    body_read_timeout: Duration,
    /// Serve HTTPS with this acceptor.
    tls: Option<RustlsAcceptor>,
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets open requests finish
/// (up to `grace`), treating connections as `options` say.
async fn serve(
    listener: TcpListener,
    service: S3Service,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    options: ConnOptions,
) {
    let ConnOptions {
        header_read_timeout,
        max_connections,
        body_read_timeout,
        tls,
    } = options;
    // Every request body fails once it sends nothing for `body_read_timeout`, so a stalled
    // client cannot hold a connection (and its partly read object) forever.
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let mut service = service.clone();
        let req = req.map(|body| stall_timeout(body, body_read_timeout));
        tower::Service::call(&mut service, req)
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = ConnBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Some(header_read_timeout));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _peer)) = accepted else { continue };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    drop(socket);
                    metrics::counter!(landing::metric_names::CONNECTIONS_REFUSED_TOTAL, "listener" => "s3")
                        .increment(1);
                    continue;
                };
                match tls.clone() {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(socket), service.clone());
                        let conn = graceful.watch(conn.into_owned());
                        tokio::spawn(async move {
                            let _ = conn.await;
                            drop(permit);
                        });
                    }
                    Some(acceptor) => {
                        // The handshake is bounded like the request headers it precedes.
                        let (builder, service) = (builder.clone(), service.clone());
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let handshake = acceptor.accept(socket, ());
                            if let Ok(Ok((stream, _))) =
                                tokio::time::timeout(header_read_timeout, handshake).await
                            {
                                let conn = builder.serve_connection(TokioIo::new(stream), service);
                                let _ = watcher.watch(conn.into_owned()).await;
                            }
                            drop(permit);
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}

/// The message of a body that stalled past the body read timeout (the S3 handlers answer
/// it with `RequestTimeout`).
pub(crate) const BODY_STALLED: &str = "the request body sent nothing within the body read timeout";

/// A request body that fails once it sends nothing for `timeout`; its size and end are
/// reported as the connection's (s3s tells an empty body from a missing length by them).
struct StallTimeout {
    inner: hyper::body::Incoming,
    timeout: Duration,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

fn stall_timeout(inner: hyper::body::Incoming, timeout: Duration) -> StallTimeout {
    StallTimeout {
        inner,
        timeout,
        sleep: None,
    }
}

impl hyper::body::Body for StallTimeout {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            this.sleep = None;
            return Poll::Ready(frame.map(|f| f.map_err(std::io::Error::other)));
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                BODY_STALLED,
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A running S3 front door on its own task.
pub struct S3Server {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    /// Binds `addr` and serves the front door over `landing`.
    pub async fn start(
        addr: SocketAddr,
        landing: Arc<landing::Landing>,
        config: S3Config,
        shared: crate::ServerConfig,
    ) -> Result<S3Server, S3SetupError> {
        let header_read_timeout = config.header_read_timeout;
        let max_connections = config.max_connections;
        let body_read_timeout = config.body_read_timeout;
        let tls = match &config.tls {
            None => None,
            Some((cert, key)) => {
                let tls = RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                    S3SetupError::Config(format!(
                        "loading TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
                // HTTP/1.1 only, as Amazon S3 answers: an SDK that offers h2 first gets the
                // protocol it gets from S3 (axum-server offers h2 and HTTP/1.1 by default).
                let mut only_h1 = (*tls.get_inner()).clone();
                only_h1.alpn_protocols = vec![b"http/1.1".to_vec()];
                tls.reload_from_config(Arc::new(only_h1));
                Some(RustlsAcceptor::new(tls))
            }
        };
        let service = service(landing, config, shared)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| S3SetupError::Config(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| S3SetupError::Config(e.to_string()))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            service,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(10),
            ConnOptions {
                header_read_timeout,
                max_connections,
                body_read_timeout,
                tls,
            },
        ));
        Ok(S3Server { addr, stop, task })
    }

    /// Stops accepting and waits for open requests (up to 10 s).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
