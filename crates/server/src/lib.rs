//! Server: the HTTP front doors of snowstream.
//!
//! A receiver wire-compatible with Apache NiFi's ListenHTTP (raw bodies with attributes as
//! headers, FlowFile packages v3/v2, multipart/form-data forms (a FlowFile per part), gzip,
//! HEAD, healthcheck, two-phase holds), which parses
//! records and hands them to `landing`, answering only once they are durable; the S3 API
//! front door ([`s3`]); and the one listener stack both are served by ([`listener`]:
//! connections, their limits and timeouts, TLS).

mod attrs;
mod auth;
mod budget;
mod config;
mod cut;
mod deadletter;
pub mod defaults;
mod error;
mod holds;
mod ingest;
mod listen;
pub mod listener;
mod multipart;
mod passthrough;
mod received;
pub mod s3;
mod ui;

use std::sync::Arc;
use std::time::Duration;

pub use attrs::RawHeaderNames;
pub use auth::{BasicUser, ClientCert, parse_basic_users};
pub use budget::BodyBudget;
pub use config::{OnParseError, ServerConfig, StreamOptions};
pub use error::{ApiError, Challenge};
pub use listen::{DEAD_LETTERS_HEADER, STREAM_HEADER};

/// Shared state of the HTTP handlers: one `Arc`, so the clone axum makes of it for every
/// request is one reference count, not one per field (issue 14's per-request CPU).
#[derive(Clone)]
pub struct AppState(Arc<State>);

/// What [`AppState`] shares; the handlers read its (crate-private) fields through `Deref`.
#[derive(Clone)]
pub struct State {
    landing: Arc<landing::Landing>,
    config: ServerConfig,
    holds: Arc<holds::Holds>,
    metrics: Option<listen::Render>,
    /// Extra status for `GET /api/status` (the demo's local warehouse).
    status_extra: Option<ui::StatusExtra>,
    /// Per-stream request counters, looked up once.
    counters: listen::Counters,
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl AppState {
    /// `metrics` renders the Prometheus text for `GET /metrics` (None: endpoint answers 404).
    /// Must be called inside a tokio runtime: it starts the hold-expiry task.
    pub fn new(
        landing: Arc<landing::Landing>,
        config: ServerConfig,
        metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    ) -> Self {
        let holds = Arc::new(holds::Holds::new(
            config.max_hold_bytes,
            config.max_holds,
            config.hold_timeout,
        ));
        let weak = Arc::downgrade(&holds);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(h) => {
                        h.expire();
                    }
                    None => break,
                }
            }
        });
        let counters = listen::Counters::new(&landing);
        AppState(Arc::new(State {
            landing,
            config,
            holds,
            metrics,
            status_extra: None,
            counters,
        }))
    }

    /// Adds `extra()` to every `GET /api/status` answer, as its `warehouse` field.
    pub fn with_status_extra(
        mut self,
        extra: Arc<dyn Fn() -> Option<serde_json::Value> + Send + Sync>,
    ) -> Self {
        // Unshared (the only caller sets it right after `new`), this writes in place; shared,
        // the copy keeps the same landing, holds and counters.
        Arc::make_mut(&mut self.0).status_extra = Some(extra);
        self
    }

    pub fn landing(&self) -> &Arc<landing::Landing> {
        &self.landing
    }
}

/// The health check alone (`GET /{base}/healthcheck`, `GET /healthcheck`), for a port of its own.
pub fn health_router(state: AppState) -> axum::Router {
    listen::health_routes(state)
}

/// The axum router of the ListenHTTP-compatible front door. Serve it with [`listener::serve`],
/// as `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: AppState) -> axum::Router {
    // Rejections are logged (with their reason) where they are made; 503 backpressure is
    // expected under load, not an error worth an ERROR line per request.
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG));
    listen::routes(state.clone())
        .merge(ui::routes(state))
        .layer(trace)
}
