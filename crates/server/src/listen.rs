//! The ListenHTTP-compatible endpoints: POST (raw or FlowFile packages), HEAD, hold DELETE,
//! healthcheck and metrics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics::Counter;

use crate::AppState;
use crate::attrs::{BodyKind, RawHeaderNames, RequestInfo};
use crate::auth::{ClientCert, Guard};
use crate::error::ApiError;
use crate::ingest::{self, BodySpec};
use records::Format;

/// Header naming the target stream when the path does not.
pub const STREAM_HEADER: &str = "x-snowstream-stream";
const HOLD_HEADER: &str = "x-prefer-acknowledge-uri";
/// Response header: how many FlowFiles of the request were set aside as dead letters.
pub const DEAD_LETTERS_HEADER: &str = "x-snowstream-dead-letters";
const GZIPPED_HEADER: &str = "flowfile-gzipped";
const PROTOCOL_VERSION_HEADER: &str = "x-nifi-transfer-protocol-version";
const ACCEPT_VALUE: &str = "application/flowfile-v3,application/flowfile-v2,*/*;q=0.8";

pub(crate) fn routes(state: AppState) -> Router {
    let base = format!("/{}", state.config.base_path.trim_matches('/'));
    Router::new()
        .route(&base, post(post_records).head(head))
        .route(&format!("{base}/{{stream}}"), post(post_records).head(head))
        .route(
            &format!("{base}/holds/{{id}}"),
            axum::routing::delete(confirm_hold),
        )
        // PostHTTP (nifi 1.x) does not DELETE the Location it is given when that starts with
        // `/contentListener`: it appends the rest to the URL it posted to (PostHTTP.java,
        // onTrigger, "the response indicated a Hold URI; delete the Hold"), so a post to
        // `{base}/{stream}` confirms at `{base}/{stream}/holds/{id}`.
        .route(
            &format!("{base}/{{stream}}/holds/{{id}}"),
            axum::routing::delete(confirm_stream_hold),
        )
        // ListenHTTP serves its HealthCheckServlet (`@Path("/healthcheck")`) under the base
        // path: `"/" + basePath + path.value()` (ListenHTTP.java, createHttpServerFromService).
        .route(&format!("{base}/healthcheck"), get(healthcheck))
        .route("/healthcheck", get(healthcheck))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Only the health check, at `/{base}/healthcheck` and `/healthcheck`: what ListenHTTP's
/// *Listening Port for health check requests* connector is for (a load balancer or NiFi
/// probing liveness without reaching the data endpoints).
pub(crate) fn health_routes(state: AppState) -> Router {
    let base = format!("/{}", state.config.base_path.trim_matches('/'));
    Router::new()
        .route(&format!("{base}/healthcheck"), get(healthcheck))
        .route("/healthcheck", get(healthcheck))
        .with_state(state)
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

/// The client certificate the TLS handshake verified, if any.
type Cert = Option<Extension<ClientCert>>;

async fn head(State(state): State<AppState>, cert: Cert, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers, cert.as_ref().map(|c| &c.0)) {
        return e.into_response();
    }
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_VALUE));
    h.insert(PROTOCOL_VERSION_HEADER, HeaderValue::from_static("3"));
    resp
}

/// A POST to the base path or to `{base}/{stream}`: the stream named in the path, else by
/// the stream header, else the default one.
async fn post_records(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    path: Option<Path<String>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // A header that is not text still names a stream (one that cannot exist, so a 404),
    // rather than silently sending the records to the default stream.
    let stream = match path {
        Some(Path(stream)) => Some(stream),
        None => headers
            .get(STREAM_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    };
    let info = RequestInfo {
        headers,
        raw_names: parts.extensions.get::<RawHeaderNames>(),
        header_regex: state.config.headers_as_attributes.as_ref(),
        peer,
        uri: &parts.uri,
        cert: parts.extensions.get::<ClientCert>(),
        deny: &state.config.header_deny_list,
    };
    let mut body = Some(body);
    let answer = receive(&state, stream, &info, &mut body).await;
    if let (true, Some(unread)) = (answer.is_err(), body) {
        // Refused before the body was read (401, 404, spool full): read and drop it first,
        // so the client, which may still be writing it, gets the answer on a connection it
        // can use again. Apache HttpClient (NiFi's PostHTTP) writes the whole body, then
        // reads a 401 and sends the request again with credentials on the same connection;
        // a body left unread makes hyper close the connection under it (a broken pipe).
        let mut chunks = unread.into_data_stream();
        crate::budget::drain(&mut chunks, state.config.max_request_bytes).await;
    }
    respond(answer)
}

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    cert: Option<&ClientCert>,
) -> Result<(), ApiError> {
    let config = &state.config;
    Guard {
        bearer: config.auth_token.as_deref(),
        basic: &config.basic_auth,
        dn_pattern: config.authorized_dn.as_ref(),
        issuer_pattern: config.authorized_issuer_dn.as_ref(),
    }
    .check(headers, cert)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers one request; takes `body` out of its option only once it starts reading it, so
/// the caller can drain a body left unread by an early refusal.
async fn receive(
    state: &AppState,
    stream: Option<String>,
    info: &RequestInfo<'_>,
    body: &mut Option<Body>,
) -> Result<Response, ApiError> {
    let headers = info.headers;
    authorize(state, headers, info.cert)?;
    let config = &state.config;
    let stream = stream.unwrap_or_else(|| config.default_stream.clone());
    if !state.landing.has_stream(&stream) {
        return Err(ApiError::NotFound(format!(
            "no stream named {stream:?} is configured"
        )));
    }
    // A pass-through stream's FlowFiles go to the sink, not to the spool.
    if !config.is_pass_through(&stream) && state.landing.spool_full() {
        return Err(ApiError::Unavailable {
            reason: "spool is full; retry later".into(),
            retry_after: config.retry_after_secs,
        });
    }
    let content_type = header_str(headers, "content-type").unwrap_or("");
    let package = flowfile::Version::from_mime(content_type);
    let form = package.is_none() && crate::multipart::is_multipart(content_type);
    let gzip = content_encoding_is_gzip(headers)?
        || header_str(headers, GZIPPED_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let spec = BodySpec {
        gzip,
        package,
        max_bytes: config.max_request_bytes,
        max_flowfiles: config.max_flowfiles_per_request,
        max_attribute_bytes: config.max_attribute_bytes,
        envelope: config.envelope(&stream),
    };
    // Held until the request is answered: its body's bytes stay in memory until then.
    let mut budget = config.body_budget.reservation("http");
    let body = body.take().expect("the body is read once");
    let mut flowfiles = ingest::read_flowfiles(body, &spec, &mut budget).await?;
    if form {
        // The raw body, split into a FlowFile per part.
        let whole = flowfiles.pop().map(|f| f.content).unwrap_or_default();
        flowfiles =
            crate::multipart::split(whole, content_type, config.max_flowfiles_per_request).await?;
    }
    let body_bytes: u64 = flowfiles.iter().map(|f| f.content.len() as u64).sum();

    // Attributes as NiFi's ListenHTTPServlet sets them (a form's parts are new FlowFiles, with
    // no `mime.type` of the request's).
    info.apply(
        &mut flowfiles,
        match (package, form) {
            (Some(_), _) => BodyKind::Package,
            (None, true) => BodyKind::Form,
            (None, false) => BodyKind::Raw { content_type },
        },
    );

    if config.is_pass_through(&stream) {
        return crate::passthrough::receive(state, &stream, flowfiles).await;
    }
    let fallback = if package.is_none() {
        Format::from_mime(content_type).unwrap_or_else(|| config.default_format(&stream))
    } else {
        config.default_format(&stream)
    };
    let (batch, set_aside) = crate::deadletter::parse(
        state,
        &stream,
        flowfiles,
        fallback,
        package.is_some() || form,
        &spec,
    )
    .await?;

    let records = batch.records();
    state.counters.received(&stream, body_bytes);

    // Dead letters are landed already: a hold that expired would land them again on resend.
    if set_aside == 0
        && header_str(headers, HOLD_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        let Some(id) = state.holds.put(stream.clone(), batch) else {
            return Err(ApiError::Unavailable {
                reason: "too many unconfirmed holds; retry later".into(),
                retry_after: config.retry_after_secs,
            });
        };
        let location = format!("/{}/holds/{id}", config.base_path.trim_matches('/'));
        let mut resp = (StatusCode::SEE_OTHER, location.clone()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("ascii"),
        );
        h.insert(
            "x-location-uri-intent",
            HeaderValue::from_static("flowfile-hold"),
        );
        return Ok(resp);
    }

    let receipt = state
        .landing
        .append(&stream, batch)
        .await
        .map_err(|e| ApiError::from_append(e, config.retry_after_secs))?;
    state.counters.accepted(&stream, records);
    let mut resp = accepted(state, &stream, receipt);
    if set_aside > 0 {
        resp.headers_mut()
            .insert(DEAD_LETTERS_HEADER, HeaderValue::from(set_aside));
    }
    Ok(resp)
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

/// Whether the body is gzip'd per `Content-Encoding`; any coding but gzip (or none) is
/// refused rather than parsed as data.
fn content_encoding_is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = header_str(headers, "content-encoding") else {
        return Ok(false);
    };
    let mut gzip = false;
    for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match coding.to_ascii_lowercase().as_str() {
            "identity" => {}
            "gzip" | "x-gzip" if !gzip => gzip = true,
            _ => return Err(ApiError::UnsupportedEncoding(value.to_owned())),
        }
    }
    Ok(gzip)
}

async fn confirm_stream_hold(
    State(state): State<AppState>,
    cert: Cert,
    Path((_stream, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // Hold ids are unique across streams; the stream segment only mirrors the posted URL.
    confirm_hold(State(state), cert, Path(id), headers).await
}

async fn confirm_hold(
    State(state): State<AppState>,
    cert: Cert,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&state, &headers, cert.as_ref().map(|c| &c.0)) {
        return e.into_response();
    }
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
