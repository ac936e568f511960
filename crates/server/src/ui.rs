//! The live status page: `GET /ui` (one HTML file compiled into the binary, vanilla JS and an
//! inline SVG chart, no CDN) polls `GET /api/status`, the landing service's
//! [`landing::status::StatusSnapshot`] as JSON (documented in docs/api.md).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

/// The page, compiled in.
const PAGE: &str = include_str!("ui/index.html");

/// Extra status an application adds to `/api/status` (as `warehouse`).
pub(crate) type StatusExtra = Arc<dyn Fn() -> Option<serde_json::Value> + Send + Sync>;

pub(crate) fn routes(state: AppState) -> Router {
    let router = Router::new().route("/api/status", get(status));
    // `--base-path ui` takes `/ui` for the receiver (POST/HEAD there): the page then stays off.
    let router = if state.config.base_path.trim_matches('/') == "ui" {
        tracing::warn!("--base-path ui: the live page is off (GET /api/status still answers)");
        router
    } else {
        router.route("/ui", get(page)).route("/ui/", get(page))
    };
    router.with_state(state)
}

/// Who may read the observability endpoints (`/metrics`, `/ui`, `/api/status`): anyone who
/// can reach the port, unless a metrics token is set (`--metrics-token-file`, or
/// `--metrics-auth` for the ingest token); then `Authorization: Bearer <token>`.
pub(crate) fn authorize_observer(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return Ok(());
    };
    crate::auth::Guard {
        bearer: Some(token),
        basic: &[],
        dn_pattern: None,
        issuer_pattern: None,
    }
    .check(headers, None)
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize_observer(&state, &headers) {
        return e.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize_observer(&state, &headers) {
        return e.into_response();
    }
    let mut snapshot = state.landing.status();
    if let Some(extra) = &state.status_extra {
        // The provider may read a database: keep it off the async workers.
        let extra = extra.clone();
        snapshot.warehouse = tokio::task::spawn_blocking(move || extra())
            .await
            .ok()
            .flatten();
    }
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(snapshot)).into_response()
}
