//! The ListenHTTP-compatible endpoints: POST (raw bodies, FlowFile packages, forms), HEAD,
//! hold DELETE, health check and metrics.
//!
//! A data request's credentials are checked before anything else ([`admit`]: a layer on the
//! HEAD and hold routes, the first call of the POST handler, which then admits the stream and
//! body shape) and a POST goes through [`post`] in one line.

mod admit;
mod post;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, head, post};
use metrics::Counter;

use crate::AppState;
use crate::error::ApiError;

pub use admit::STREAM_HEADER;
pub use post::DEAD_LETTERS_HEADER;

const PROTOCOL_VERSION_HEADER: &str = "x-nifi-transfer-protocol-version";
const ACCEPT_VALUE: &str = "application/flowfile-v3,application/flowfile-v2,*/*;q=0.8";

/// The base path as a prefix of the routes: `/contentListener`, or empty for the root (`/`,
/// which NiFi's Base Path validator allows too).
pub(crate) fn prefix(base_path: &str) -> String {
    match base_path.trim_matches('/') {
        "" => String::new(),
        b => format!("/{b}"),
    }
}

pub(crate) fn routes(state: AppState) -> Router {
    let base = prefix(&state.config.base_path);
    let root = if base.is_empty() { "/" } else { &base };
    let stream = format!("{base}/{{stream}}");
    let guarded = Router::new()
        .route(root, head(capabilities))
        .route(&stream, head(capabilities))
        .route(&format!("{base}/holds/{{id}}"), delete(confirm_hold))
        // PostHTTP (nifi 1.x) does not DELETE the Location it is given when that starts with
        // `/contentListener`: it appends the rest to the URL it posted to (PostHTTP.java,
        // onTrigger, "the response indicated a Hold URI; delete the Hold"), so a post to
        // `{base}/{stream}` confirms at `{base}/{stream}/holds/{id}`.
        .route(
            &format!("{base}/{{stream}}/holds/{{id}}"),
            delete(confirm_stream_hold),
        )
        .route_layer(from_fn_with_state(state.clone(), admit::authenticate));
    // A POST checks the same credentials as the first thing its handler does
    // (`admit::credentials`), not through the layer above.
    let posts = Router::new()
        .route(root, post(post::records))
        .route(&stream, post(post::records));
    with_health_check(guarded.merge(posts), &base)
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Only the health check, at `/{base}/healthcheck` and `/healthcheck`: what ListenHTTP's
/// *Listening Port for health check requests* connector is for (a load balancer or NiFi
/// probing liveness without reaching the data endpoints).
pub(crate) fn health_routes(state: AppState) -> Router {
    let base = prefix(&state.config.base_path);
    with_health_check(Router::new(), &base).with_state(state)
}

/// ListenHTTP serves its HealthCheckServlet (`@Path("/healthcheck")`) under the base path:
/// `"/" + basePath + path.value()` (ListenHTTP.java, createHttpServerFromService); here also
/// at `/healthcheck` (one route when the base path is the root).
fn with_health_check(router: Router<AppState>, base: &str) -> Router<AppState> {
    let router = router.route("/healthcheck", get(healthcheck));
    if base.is_empty() {
        router
    } else {
        router.route(&format!("{base}/healthcheck"), get(healthcheck))
    }
}

async fn healthcheck(State(state): State<AppState>) -> Response {
    if state.landing.spool_full() {
        // Still alive: say so, but let load balancers see the pressure.
        return (
            StatusCode::OK,
            "OK (spool full: refusing new records until it drains)\n",
        )
            .into_response();
    }
    (StatusCode::OK, "OK\n").into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // One access rule for /metrics, /ui and /api/status.
    if let Err(e) = crate::ui::authorize_observer(&state, &headers) {
        return e.into_response();
    }
    match &state.metrics {
        Some(render) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// HEAD: what PostHTTP asks before sending (FlowFile package versions and gzip).
async fn capabilities() -> Response {
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_VALUE));
    h.insert(PROTOCOL_VERSION_HEADER, HeaderValue::from_static("3"));
    resp
}

/// Each stream's request counters, looked up once when the state is built instead of a
/// labelled key per request.
#[derive(Clone)]
pub(crate) struct Counters(HashMap<String, StreamCounters>);

#[derive(Clone)]
struct StreamCounters {
    bytes: Counter,
    records: Counter,
    requests: Counter,
}

impl StreamCounters {
    fn new(stream: &str) -> Self {
        use landing::metric_names as m;
        let c = |name: &'static str| metrics::counter!(name, "stream" => stream.to_owned());
        StreamCounters {
            bytes: c(m::BYTES_RECEIVED_TOTAL),
            records: c(m::RECORDS_RECEIVED_TOTAL),
            requests: c(m::REQUESTS_TOTAL),
        }
    }
}

impl Counters {
    /// Handles for every stream `landing` has, in the process's recorder.
    pub(crate) fn new(landing: &landing::Landing) -> Self {
        let streams = landing.streams().map(|s| s.name.clone());
        Counters(
            streams
                .map(|n| (n.clone(), StreamCounters::new(&n)))
                .collect(),
        )
    }

    fn with(&self, stream: &str, f: impl FnOnce(&StreamCounters)) {
        match self.0.get(stream) {
            Some(c) => f(c),
            None => f(&StreamCounters::new(stream)),
        }
    }

    /// Counts a request body's bytes.
    fn received(&self, stream: &str, bytes: u64) {
        self.with(stream, |c| c.bytes.increment(bytes));
    }

    /// Counts a request whose records were appended (a POST, or the DELETE confirming a hold).
    fn accepted(&self, stream: &str, records: u64) {
        self.with(stream, |c| {
            c.records.increment(records);
            c.requests.increment(1);
        });
    }
}

fn accepted(state: &AppState, stream: &str, receipt: landing::Receipt) -> Response {
    let code = StatusCode::from_u16(state.config.success_code).unwrap_or(StatusCode::OK);
    let text = match receipt.records {
        0 => format!("accepted 0 records into {stream}\n"),
        n => format!(
            "accepted {n} record{} into {stream} (seq {}..={})\n",
            if n == 1 { "" } else { "s" },
            receipt.first_seq,
            receipt.first_seq + n - 1
        ),
    };
    let mut resp = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    *resp.status_mut() = code;
    resp
}

async fn confirm_stream_hold(
    State(state): State<AppState>,
    Path((_stream, id)): Path<(String, String)>,
) -> Response {
    // Hold ids are unique across streams; the stream segment only mirrors the posted URL.
    confirm_hold(State(state), Path(id)).await
}

async fn confirm_hold(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(held) = state.holds.take(&id) else {
        return ApiError::NotFound(format!(
            "no hold with id {id} (never made, already confirmed, or expired)"
        ))
        .into_response();
    };
    let stream = held.stream.clone();
    let records = held.batch.records();
    match state.landing.append(&stream, held.batch.clone()).await {
        Ok(_) => {
            state.counters.accepted(&stream, records);
            (StatusCode::OK, "").into_response()
        }
        Err(e) => {
            // Nothing was appended: keep the hold (and its deadline) so the retry that the
            // 503's Retry-After invites can still confirm it.
            if matches!(
                e,
                landing::AppendError::SpoolFull { .. } | landing::AppendError::DiskFault(_)
            ) {
                state.holds.restore(id, held);
            }
            ApiError::from_append(e, state.config.retry_after_secs).into_response()
        }
    }
}

pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;
