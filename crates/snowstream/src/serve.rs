//! `snowstream serve`: the receiver, the spool and the landers, until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use landing::sink::{LocalSink, S3Sink, S3SinkConfig, Sink};

use crate::settings::{Settings, SinkSettings};

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

/// A running receiver: its address and a handle to stop it.
pub struct Running {
    #[allow(dead_code)] // read by the demo
    pub addr: SocketAddr,
    pub landing: Arc<landing::Landing>,
    /// The S3 API front door, when configured.
    pub s3: Option<server::s3::S3Server>,
    stop: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown_timeout: std::time::Duration,
}

/// Starts the receiver (recovering and landing whatever an earlier run left in the spool).
pub async fn start(
    settings: Settings,
    metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
) -> Result<Running> {
    let sink = make_sink(&settings.sink).await?;
    tracing::info!(sink = %sink.describe(), instance = %settings.landing.instance,
        streams = ?settings.landing.streams.iter().map(|s| &s.name).collect::<Vec<_>>(), "starting");
    let landing = Arc::new(landing::Landing::start(settings.landing.clone(), sink)?);
    let state = server::AppState::new(landing.clone(), settings.server.clone(), metrics);
    let app = server::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let task = match &settings.tls {
        None => {
            let server = axum_server::from_tcp(listener)?.handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
    };
    tracing::info!(%addr, tls = settings.tls.is_some(), base_path = %settings.server.base_path, "listening");
    let s3 = crate::s3_front::start(settings.s3_front, landing.clone()).await?;
    Ok(Running {
        s3,
        addr,
        landing,
        stop: handle,
        task,
        shutdown_timeout: settings.shutdown_timeout,
    })
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, lands the spool (up to the timeout).
    pub async fn stop(self) -> Result<()> {
        if let Some(s3) = self.s3 {
            s3.stop().await;
        }
        self.stop
            .graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        let _ = self.task.await;
        tracing::info!("receiver stopped; landing what is left in the spool");
        match tokio::time::timeout(self.shutdown_timeout, self.landing.shutdown()).await {
            Ok(()) => tracing::info!("spool landed; bye"),
            Err(_) => tracing::warn!(
                spool_bytes = self.landing.spool_bytes(),
                "shutdown timeout: some batches are still in the spool; they land on the next start"
            ),
        }
        Ok(())
    }
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
