//! The two HTTP targets, both served by `axum::serve` on 127.0.0.1:0 with TCP_NODELAY:
//! the real snowstream receiver (router + landing spool + local sink) and a bare handler
//! that reads and drops bodies.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::post;
use axum::serve::ListenerExt;
use futures::StreamExt;
use landing::sink::local::LocalSink;
use landing::{AckMode, Compression, Landing, LandingConfig, StreamConfig};

/// The path both targets answer on (snowstream's default base path).
pub const PATH: &str = "/contentListener";
/// The stream the receiver lands into (its default stream).
pub const STREAM: &str = "customers";

/// The running snowstream receiver.
pub struct Snowstream {
    pub addr: SocketAddr,
    pub landing: Arc<Landing>,
}

/// Landing settings the bench uses.
pub struct LandingSettings {
    pub ack: AckMode,
    pub compression: Compression,
    pub spool_max_bytes: u64,
}

/// Starts the receiver with its spool in `dir/spool` and landing files in `dir/landing`.
/// Must run inside the server's tokio runtime.
pub async fn start_snowstream(
    dir: &Path,
    settings: &LandingSettings,
    metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
) -> Result<Snowstream> {
    let sink = LocalSink::new(dir.join("landing")).context("creating the landing folder")?;
    let stream = StreamConfig {
        compression: settings.compression,
        ack: settings.ack,
        ..StreamConfig::new(STREAM)
    };
    let config = LandingConfig {
        spool_dir: dir.join("spool"),
        instance: "bench".into(),
        spool_max_bytes: settings.spool_max_bytes,
        streams: vec![stream],
    };
    let landing = Arc::new(Landing::start(config, Arc::new(sink)).context("starting landing")?);
    let state = server::AppState::new(landing.clone(), server::ServerConfig::default(), metrics);
    let addr = serve(server::router(state)).await?;
    Ok(Snowstream { addr, landing })
}

/// Starts the bare handler: 200 after reading the whole body, nothing else.
pub async fn start_bare() -> Result<SocketAddr> {
    serve(Router::new().route(PATH, post(drop_body))).await
}

async fn drop_body(body: Body) -> StatusCode {
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        if chunk.is_err() {
            return StatusCode::BAD_REQUEST;
        }
    }
    StatusCode::OK
}

async fn serve(app: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        {
            eprintln!("server on {addr} stopped: {e}");
        }
    });
    Ok(addr)
}
