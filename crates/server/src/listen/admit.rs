//! What a request must pass before its body is read: its [`credentials`] (a bearer token,
//! Basic, or a client certificate the DN patterns allow), checked by the [`authenticate`]
//! layer on the HEAD and hold DELETE routes and by the POST handler's first call; then for a
//! POST [`admit`] (the stream it names exists, the spool has room unless the stream passes
//! through, and its headers describe a body this door can read). Plain calls on the POST
//! path: a `from_fn` layer costs a boxed future per request on the hottest route.
//!
//! A request refused here has its unread body drained before the answer, so the client gets
//! it on a connection it can use again: Apache HttpClient (NiFi's PostHTTP) writes the whole
//! body, then reads a 401 and sends the request again with credentials on the same
//! connection; a body left unread makes hyper close the connection under it (a broken pipe).

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{ClientCert, Guard};
use crate::error::ApiError;

/// Header naming the target stream when the path does not.
pub const STREAM_HEADER: &str = "x-snowstream-stream";
/// NiFi's own flag for a gzip'd FlowFile package (PostHTTP's Compression Level > 0).
const GZIPPED_HEADER: &str = "flowfile-gzipped";

/// A POST that passed [`admit`]: where its records go and how to read its body.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub stream: String,
    pub body: BodyShape,
}

/// What the request's headers say of its body.
#[derive(Debug, Clone)]
pub(crate) struct BodyShape {
    pub content_type: String,
    /// A FlowFile package (by Content-Type), else one raw body or a form.
    pub package: Option<flowfile::Version>,
    /// A `multipart/form-data` form, a FlowFile per part.
    pub form: bool,
    pub gzip: bool,
}

/// Layer: the request carries credentials the receiver accepts, else 401/403.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match credentials(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(e) => refuse(&state, request, e).await,
    }
}

/// The request carries credentials the receiver accepts (a bearer token, Basic, or a client
/// certificate the DN patterns allow), else the 401/403 to answer: [`authenticate`]'s check,
/// called directly by the POST handler.
pub(crate) fn credentials(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let config = &state.config;
    let guard = Guard {
        bearer: config.auth_token.as_deref(),
        basic: &config.basic_auth,
        dn_pattern: config.authorized_dn.as_ref(),
        issuer_pattern: config.authorized_issuer_dn.as_ref(),
    };
    guard.check(request.headers(), request.extensions().get::<ClientCert>())
}

/// A POST's stream (named in the path, else by [`STREAM_HEADER`], else the default one)
/// exists and can take records now, and its body can be read. Called first by the POST
/// handler (a plain call rather than a second layer: one boxed middleware future, a second
/// path extraction and an extension less per request).
pub(crate) fn admit(
    state: &AppState,
    path: Option<Path<String>>,
    headers: &HeaderMap,
) -> Result<Admitted, ApiError> {
    // A header that is not text still names a stream (one that cannot exist, so a 404),
    // rather than silently sending the records to the default stream.
    let named = path.map(|Path(s)| s).or_else(|| {
        headers
            .get(STREAM_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    });
    let stream = named.unwrap_or_else(|| state.config.default_stream.clone());
    check(state, stream, headers)
}

fn check(state: &AppState, stream: String, headers: &HeaderMap) -> Result<Admitted, ApiError> {
    let config = &state.config;
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
    let content_type = header_str(headers, "content-type").unwrap_or("").to_owned();
    let package = flowfile::Version::from_mime(&content_type);
    let form = package.is_none() && crate::multipart::is_multipart(&content_type);
    let gzip = content_encoding_is_gzip(headers)?
        || header_str(headers, GZIPPED_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Admitted {
        stream,
        body: BodyShape {
            content_type,
            package,
            form,
            gzip,
        },
    })
}

/// The answer to a request refused before its body was read, once that body is drained.
pub(crate) async fn refuse(state: &AppState, request: Request, e: ApiError) -> Response {
    let mut chunks = request.into_body().into_data_stream();
    crate::budget::drain(&mut chunks, state.config.max_request_bytes).await;
    e.into_response()
}

pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
