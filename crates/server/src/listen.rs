//! The ListenHTTP-compatible endpoints: POST (raw or FlowFile packages), HEAD, hold DELETE,
//! healthcheck and metrics.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{self, BodySpec, set_attr};
use records::Format;

/// Header naming the target stream when the path does not.
pub const STREAM_HEADER: &str = "x-snowstream-stream";
const HOLD_HEADER: &str = "x-prefer-acknowledge-uri";
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
    if let Some(token) = state.config.metrics_token.as_deref()
        && !constant_time_eq(bearer(&headers).as_bytes(), token.as_bytes())
    {
        return ApiError::Unauthorized.into_response();
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

async fn head(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers) {
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
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A header that is not text still names a stream (one that cannot exist, so a 404),
    // rather than silently sending the records to the default stream.
    let stream = match path {
        Some(Path(stream)) => Some(stream),
        None => headers
            .get(STREAM_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    };
    respond(receive(&state, stream, peer, &uri, &headers, body).await)
}

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.config.auth_token.as_deref() else {
        return Ok(());
    };
    if constant_time_eq(bearer(headers).as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The token of an `Authorization: Bearer …` header, or "" when there is none.
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The auth scheme is case-insensitive (RFC 7235); the token is not.
        .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token))
        .map(str::trim)
        .unwrap_or("")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    state: &AppState,
    stream: Option<String>,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(state, headers)?;
    let config = &state.config;
    let stream = stream.unwrap_or_else(|| config.default_stream.clone());
    if !state.landing.has_stream(&stream) {
        return Err(ApiError::NotFound(format!(
            "no stream named {stream:?} is configured"
        )));
    }
    if state.landing.spool_full() {
        return Err(ApiError::Unavailable {
            reason: "spool is full; retry later".into(),
            retry_after: config.retry_after_secs,
        });
    }
    let content_type = header_str(headers, "content-type").unwrap_or("");
    let package = flowfile::Version::from_mime(content_type);
    let gzip = content_encoding_is_gzip(headers)?
        || header_str(headers, GZIPPED_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let spec = BodySpec {
        gzip,
        package,
        max_bytes: config.max_request_bytes,
        max_flowfiles: config.max_flowfiles_per_request,
        max_attribute_bytes: config.max_attribute_bytes,
    };
    let mut flowfiles = ingest::read_flowfiles(body, &spec).await?;
    let body_bytes: u64 = flowfiles.iter().map(|f| f.content.len() as u64).sum();

    // Attributes as NiFi's ListenHTTPServlet sets them.
    let request_attrs = request_attributes(state, peer, uri, headers);
    let filename = header_str(headers, "filename").filter(|f| !f.trim().is_empty());
    for ff in &mut flowfiles {
        let attrs = &mut ff.attributes;
        if package.is_none() {
            attrs.push(("path".into(), "./".into()));
            attrs.push(("filename".into(), now_nanos()));
        } else if let Some(i) = attrs.iter().position(|(k, _)| k == "uuid") {
            let sent = std::mem::take(&mut attrs[i].1);
            attrs.remove(i);
            attrs.push(("source.uuid".into(), sent));
        }
        attrs.push(("uuid".into(), uuid::Uuid::new_v4().to_string()));
        if let Some(f) = filename {
            set_attr(attrs, "filename", f);
        }
        if package.is_none() && !content_type.is_empty() {
            set_attr(attrs, "mime.type", content_type);
        }
        for (k, v) in &request_attrs {
            set_attr(attrs, k, v);
        }
    }

    let fallback = if package.is_none() {
        Format::from_mime(content_type).unwrap_or_else(|| config.default_format(&stream))
    } else {
        config.default_format(&stream)
    };
    let batch = ingest::parse_flowfiles(flowfiles, fallback, package.is_some(), &spec).await?;

    let records = batch.records();
    metrics::counter!(landing::metric_names::BYTES_RECEIVED_TOTAL, "stream" => stream.clone())
        .increment(body_bytes);

    if header_str(headers, HOLD_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
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
    count_accepted(&stream, records);
    Ok(accepted(state, &stream, receipt))
}

/// Counts a request whose records were appended (a POST, or the DELETE confirming a hold).
fn count_accepted(stream: &str, records: u64) {
    metrics::counter!(landing::metric_names::RECORDS_RECEIVED_TOTAL, "stream" => stream.to_owned())
        .increment(records);
    metrics::counter!(landing::metric_names::REQUESTS_TOTAL, "stream" => stream.to_owned())
        .increment(1);
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
    Path((_stream, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // Hold ids are unique across streams; the stream segment only mirrors the posted URL.
    confirm_hold(State(state), Path(id), headers).await
}

async fn confirm_hold(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
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
            count_accepted(&stream, records);
            (StatusCode::OK, "").into_response()
        }
        Err(e) => {
            // Nothing was appended: keep the hold (and its deadline) so the retry that the
            // 503's Retry-After invites can still confirm it.
            if matches!(e, landing::AppendError::SpoolFull { .. }) {
                state.holds.restore(id, held);
            }
            ApiError::from_append(e, state.config.retry_after_secs).into_response()
        }
    }
}

fn request_attributes(
    state: &AppState,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    if let Some(re) = &state.config.headers_as_attributes {
        for (name, value) in headers {
            let name = name.as_str();
            // Never copy credentials into landed data.
            let denied = state.config.header_deny_list.iter();
            if name == "authorization" || denied.into_iter().any(|d| d.eq_ignore_ascii_case(name)) {
                continue;
            }
            if re.is_match(name)
                && let Ok(v) = value.to_str()
            {
                attrs.push((name.to_owned(), v.to_owned()));
            }
        }
    }
    attrs.push((
        "restlistener.remote.source.host".into(),
        peer.ip().to_string(),
    ));
    attrs.push(("restlistener.request.uri".into(), uri.path().to_owned()));
    attrs.push(("restlistener.remote.user.dn".into(), "none".into()));
    attrs.push(("restlistener.remote.issuer.dn".into(), "none".into()));
    attrs
}

fn now_nanos() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default()
}

pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;
