//! The one wiring of the app: sink → landing service → HTTP receiver (+ S3 API front door)
//! → metrics. `snowstream serve`, `snowstream demo`, the benchmark and the integration tests
//! all start it here, so what is measured and tested is what ships.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use landing::sink::{LocalSink, S3Sink, S3SinkConfig, Sink};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::{S3FrontSettings, Settings, SinkSettings};

/// Renders the metrics page (`GET /metrics`).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Starts snowstream.
pub struct App;

impl App {
    /// Builds the configured sink and starts everything over it (recovering and landing
    /// whatever an earlier run left in the spool), with the process's Prometheus metrics.
    pub async fn start(settings: Settings) -> Result<Running> {
        Self::builder(settings).start().await
    }

    /// The same start, with parts swapped for tests: a sink that injects faults, or another
    /// metrics page.
    pub fn builder(settings: Settings) -> Builder {
        Builder {
            settings,
            sink: None,
            metrics: None,
            status_extra: None,
        }
    }
}

/// [`App::start`] with parts swapped.
pub struct Builder {
    settings: Settings,
    sink: Option<Arc<dyn Sink>>,
    metrics: Option<Option<MetricsRender>>,
    status_extra: Option<StatusExtra>,
}

/// Extra status for `GET /api/status` (its `warehouse` field), e.g. the demo's warehouse.
pub type StatusExtra = Arc<dyn Fn() -> Option<serde_json::Value> + Send + Sync>;

impl Builder {
    /// Lands into `sink` instead of the configured one.
    pub fn sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Serves `render` at `/metrics` instead of the Prometheus recorder (`None`: no page).
    pub fn metrics(mut self, render: Option<MetricsRender>) -> Self {
        self.metrics = Some(render);
        self
    }

    /// Adds `extra()` to the status page's API (`GET /api/status`, field `warehouse`).
    pub fn status_extra(mut self, extra: StatusExtra) -> Self {
        self.status_extra = Some(extra);
        self
    }

    /// Starts the sink, the landing service, the HTTP receiver and the S3 API front door.
    pub async fn start(self) -> Result<Running> {
        let mut settings = self.settings;
        settings.settle_instance()?;
        let sink = match self.sink {
            Some(sink) => sink,
            None => make_sink(&settings.sink).await?,
        };
        let render = match self.metrics {
            Some(render) => render,
            None => {
                let metrics = metrics_handle()?;
                Some(Arc::new(move || metrics.render()) as MetricsRender)
            }
        };
        tracing::info!(sink = %sink.describe(), instance = %settings.landing.instance,
            streams = ?settings.landing.streams.iter().map(|s| &s.name).collect::<Vec<_>>(), "starting");
        let landing = Arc::new(
            landing::Landing::start(settings.landing.clone(), sink)
                .context("starting the spool")?,
        );
        let mut state = server::AppState::new(landing.clone(), settings.server.clone(), render);
        if let Some(extra) = self.status_extra {
            state = state.with_status_extra(extra);
        }
        let health = match settings.listener.health_check_listen {
            Some(addr) => Some(serve_health(addr, server::health_router(state.clone())).await?),
            None => None,
        };
        let listen = &settings.listener;
        // Every writer must show a certificate signed by --tls-client-ca (not under WANT).
        let certs_required =
            listen.tls_client_ca.is_some() && listen.client_authentication.requires_certificate();
        let options = server::listener::Options {
            name: "http",
            header_read_timeout: listen.header_read_timeout.0,
            max_connections: usize::try_from(listen.max_connections).unwrap_or(usize::MAX),
            body_read_timeout: listen.body_read_timeout.0,
            header_case: true,
            tls: settings
                .tls
                .clone()
                .map(|(cert, key)| server::listener::TlsOptions {
                    cert,
                    key,
                    alpn: listen.http_protocols.alpn(),
                    client_ca: listen.tls_client_ca.clone(),
                    client_cert_required: certs_required,
                }),
        };
        let app = server::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let http = server::listener::serve(listen.listen, app, options)?;
        let addr = http.addr();
        tracing::info!(%addr, tls = settings.tls.is_some(), base_path = %settings.server.base_path, "listening");
        if !addr.ip().is_loopback()
            && settings.server.auth_token.is_none()
            && settings.server.basic_auth.is_empty()
            && !certs_required
        {
            tracing::warn!(%addr, "listening beyond this machine without authentication: anyone who \
                can reach the port can write into the pipeline (set --auth-token-file, --basic-auth-file, or --tls-client-ca with client authentication REQUIRED)");
        }
        let s3 = start_s3(settings.s3_front, landing.clone(), settings.server).await?;
        let stale = landing::stale::StaleMonitor::start(&landing, settings.stale)
            .context("starting the staleness monitor")?;
        Ok(Running {
            _stale: stale,
            http,
            health,
            s3,
            landing,
            shutdown_timeout: settings.shutdown_timeout,
        })
    }
}

/// A running snowstream.
pub struct Running {
    /// The HTTP receiver's listener.
    http: server::listener::Serving,
    /// The health check's own listener, when configured: its address and task.
    health: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    s3: Option<server::s3::S3Server>,
    landing: Arc<landing::Landing>,
    shutdown_timeout: Duration,
    /// The staleness monitor, when a stream is watched (stops when dropped).
    _stale: Option<landing::stale::StaleMonitor>,
}

impl Drop for Running {
    /// Dropped without [`Running::stop`] (a test that ends, a panic): the receiver stops
    /// listening at once (its listener does so when dropped); the spool keeps what it
    /// acknowledged for the next start.
    fn drop(&mut self) {
        if let Some((_, task)) = self.health.take() {
            task.abort();
        }
    }
}

impl Running {
    /// Where the HTTP receiver listens.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// Where the health check's own listener is, when it is on.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|(a, _)| *a)
    }

    /// Where the S3 API front door listens, when it is on.
    pub fn s3_addr(&self) -> Option<SocketAddr> {
        self.s3.as_ref().map(|s| s.addr)
    }

    /// The landing service (spool, landers, sink).
    pub fn landing(&self) -> &Arc<landing::Landing> {
        &self.landing
    }

    /// Stops accepting, lets in-flight requests finish, lands the spool (up to the shutdown
    /// timeout; what is left lands on the next start).
    pub async fn stop(mut self) -> Result<()> {
        if let Some(s3) = self.s3.take() {
            s3.stop().await;
        }
        if let Some((_, task)) = self.health.take() {
            task.abort();
        }
        self.http.stop().await;
        tracing::info!("receiver stopped; landing what is left in the spool");
        match tokio::time::timeout(self.shutdown_timeout, self.landing.shutdown()).await {
            Ok(failed) if failed.is_empty() => tracing::info!("spool landed; bye"),
            Ok(failed) => {
                anyhow::bail!(
                    "streams {failed:?} had stopped landing (a panic); their batches stay in the spool and land on the next start"
                )
            }
            Err(_) => tracing::warn!(
                spool_bytes = self.landing.spool_bytes(),
                "shutdown timeout: some batches are still in the spool; they land on the next start"
            ),
        }
        Ok(())
    }
}

/// Serves the health check alone on `addr` (plain HTTP, no auth, like ListenHTTP's health
/// check connector, which never asks for a client certificate).
async fn serve_health(
    addr: SocketAddr,
    router: axum::Router,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (health check)"))?;
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "health check listening");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "health check listener stopped");
        }
    });
    Ok((bound, task))
}

/// Builds the configured sink.
pub async fn make_sink(sink: &SinkSettings) -> Result<Arc<dyn Sink>> {
    Ok(match sink {
        SinkSettings::Local { dir } => {
            let sink =
                LocalSink::new(dir).with_context(|| format!("landing folder {}", dir.display()))?;
            // Temp files a crash left mid-write; their batches are still in the spool.
            let cleaned = sink
                .clean_temp_files()
                .with_context(|| format!("cleaning temp files in {}", dir.display()))?;
            if cleaned > 0 {
                tracing::info!(cleaned, "removed partial files left by an earlier run");
            }
            Arc::new(sink)
        }
        SinkSettings::S3 {
            bucket,
            endpoint_url,
            region,
        } => {
            let mut cfg = S3SinkConfig::new(bucket.clone());
            cfg.endpoint_url = endpoint_url.clone();
            cfg.force_path_style = endpoint_url.is_some();
            cfg.region = region.clone();
            Arc::new(S3Sink::new(cfg).await.context("setting up the S3 sink")?)
        }
    })
}

/// Starts the S3 API over `landing` when it is configured.
async fn start_s3(
    settings: Option<S3FrontSettings>,
    landing: Arc<landing::Landing>,
    shared: server::ServerConfig,
) -> Result<Option<server::s3::S3Server>> {
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
    let server = server::s3::S3Server::start(s.listen, landing, s.config, shared)
        .await
        .context("starting the S3 API")?;
    tracing::info!(addr = %server.addr, ?buckets, "S3 API listening");
    Ok(Some(server))
}

/// The process's Prometheus recorder, installed by the first app started in it (a process
/// has one global recorder; later apps, as in tests, share it).
fn metrics_handle() -> Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 60.0,
            ],
        )?
        .build_recorder();
    let handle = recorder.handle();
    if HANDLE.set(handle.clone()).is_ok() {
        // Only the first caller gets here with its handle stored; ignore a recorder that some
        // other code installed before us (then our handle simply renders nothing).
        let _ = metrics::set_global_recorder(recorder);
    }
    Ok(HANDLE.get().cloned().unwrap_or(handle))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
