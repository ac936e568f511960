//! A POST of records, once [`admit`](super::admit::admit) let it in, step by step as it is answered.
//! A raw NDJSON or CSV body or a FlowFile package to a parsing stream is received in parts
//! ([`ingest::receive_in_parts`]: parsed as it arrives, to the spool a part at a time, one
//! atomic append). Any other is [`read`] whole into FlowFiles carrying the request's
//! attributes; a pass-through stream lands them whole; else they are [`parse`]d into one batch
//! under the stream's policy, then [`deliver`]ed: held for a two-phase confirmation, or
//! appended to the spool and answered once durable.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use records::{Batch, Format};

use super::admit::{self, Admitted, BodyShape, header_str};
use crate::AppState;
use crate::attrs::{BodyKind, RawHeaderNames, RequestInfo};
use crate::auth::ClientCert;
use crate::config::OnParseError;
use crate::error::ApiError;
use crate::ingest::{self, BodySpec};
use crate::received::Received;

/// Response header: how many FlowFiles of the request were set aside as dead letters.
pub const DEAD_LETTERS_HEADER: &str = "x-snowstream-dead-letters";
/// PostHTTP's request for a two-phase commit (its Send as FlowFile with holds).
const HOLD_HEADER: &str = "x-prefer-acknowledge-uri";

pub(super) async fn records(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    path: Option<Path<String>>,
    request: axum::extract::Request,
) -> Response {
    let admitted = match admit::credentials(&state, &request)
        .and_then(|()| admit::admit(&state, path, request.headers()))
    {
        Ok(admitted) => admitted,
        Err(e) => return admit::refuse(&state, request, e).await,
    };
    let (parts, body) = request.into_parts();
    receive(&state, &admitted, &parts, peer, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn receive(
    state: &AppState,
    admitted: &Admitted,
    parts: &Parts,
    peer: SocketAddr,
    body: Body,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let stream = admitted.stream.as_str();
    let shape = &admitted.body;
    let spec = BodySpec {
        gzip: shape.gzip,
        package: shape.package,
        max_bytes: config.max_request_bytes,
        max_flowfiles: config.max_flowfiles_per_request,
        max_attribute_bytes: config.max_attribute_bytes,
        envelope: config.envelope(stream),
    };
    // Held until the request is answered: its body's bytes stay in memory until then.
    let mut budget = config.body_budget.reservation("http");
    let hold =
        header_str(&parts.headers, HOLD_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if let Some(fallback) = in_parts(state, stream, shape, hold) {
        let request = ingest::Request {
            stream,
            info: request_info(state, parts, peer),
            kind: body_kind(shape),
            fallback,
        };
        let retry = config.retry_after_secs;
        let done =
            ingest::receive_in_parts(&state.landing, request, body, &spec, &mut budget, retry)
                .await?;
        state.counters.received(stream, done.bytes);
        state.counters.accepted(stream, done.records);
        return Ok(super::accepted(state, stream, done.receipt));
    }
    let flowfiles = read(state, parts, peer, body, shape, &spec, &mut budget).await?;
    let body_bytes: u64 = flowfiles.iter().map(|f| f.content.len() as u64).sum();
    if config.is_pass_through(stream) {
        return crate::passthrough::receive(state, stream, flowfiles).await;
    }
    let (batch, set_aside) = parse(state, stream, flowfiles, shape, &spec).await?;
    state.counters.received(stream, body_bytes);
    // Dead letters are landed already: a hold that expired would land them again on resend.
    let mut resp = deliver(state, stream, batch, hold && set_aside == 0).await?;
    if set_aside > 0 {
        resp.headers_mut()
            .insert(DEAD_LETTERS_HEADER, HeaderValue::from(set_aside));
    }
    Ok(resp)
}

/// The body as FlowFiles (one for a raw body, a FlowFile per part of a form), each with the
/// attributes NiFi's ListenHTTPServlet gives it.
async fn read(
    state: &AppState,
    parts: &Parts,
    peer: SocketAddr,
    body: Body,
    shape: &BodyShape,
    spec: &BodySpec,
    budget: &mut crate::budget::Reservation,
) -> Result<Vec<Received>, ApiError> {
    let config = &state.config;
    let mut flowfiles = ingest::read_flowfiles(body, spec, budget).await?;
    if shape.form {
        let whole = flowfiles.pop().map(|f| f.content).unwrap_or_default();
        flowfiles =
            crate::multipart::split(whole, &shape.content_type, config.max_flowfiles_per_request)
                .await?;
    }
    request_info(state, parts, peer).apply(&mut flowfiles, body_kind(shape));
    Ok(flowfiles)
}

/// What the request gives its FlowFiles' attributes.
fn request_info<'a>(state: &'a AppState, parts: &'a Parts, peer: SocketAddr) -> RequestInfo<'a> {
    let config = &state.config;
    RequestInfo {
        headers: &parts.headers,
        raw_names: parts.extensions.get::<RawHeaderNames>(),
        header_regex: config.headers_as_attributes.as_ref(),
        peer,
        uri: &parts.uri,
        cert: parts.extensions.get::<ClientCert>(),
        deny: &config.header_deny_list,
    }
}

/// A form's parts are new FlowFiles, with no `mime.type` of the request's.
fn body_kind(shape: &BodyShape) -> BodyKind<'_> {
    match (shape.package, shape.form) {
        (Some(_), _) => BodyKind::Package,
        (None, true) => BodyKind::Form,
        (None, false) => BodyKind::Raw {
            content_type: &shape.content_type,
        },
    }
}

/// Whether the request's records go to the spool in parts as its body arrives (never held
/// whole), and the format of content that does not name one: a stream that refuses a request
/// whole when a record does not parse and parses its records (not pass-through), a body that
/// is a FlowFile package or raw NDJSON or CSV; not a form, not a hold (held records wait in
/// memory for their confirmation). Others are read whole, then parsed.
fn in_parts(state: &AppState, stream: &str, shape: &BodyShape, hold: bool) -> Option<Format> {
    let config = &state.config;
    if hold
        || shape.form
        || config.is_pass_through(stream)
        || config.on_parse_error(stream) != OnParseError::Reject
    {
        return None;
    }
    let fallback = fallback_format(state, stream, shape);
    (shape.package.is_some() || crate::cut::splits(fallback)).then_some(fallback)
}

/// The format of a FlowFile whose `mime.type` names none: a raw body's Content-Type, else
/// the stream's format (a package's FlowFiles carry their own).
fn fallback_format(state: &AppState, stream: &str, shape: &BodyShape) -> Format {
    let config = &state.config;
    match shape.package {
        None => {
            Format::from_mime(&shape.content_type).unwrap_or_else(|| config.default_format(stream))
        }
        Some(_) => config.default_format(stream),
    }
}

/// The request's one parse: every FlowFile into one batch, all-or-nothing under the default
/// policy (`reject`), or with the FlowFiles that do not parse set aside as dead letters.
/// Returns the batch and how many FlowFiles were set aside (landed already).
async fn parse(
    state: &AppState,
    stream: &str,
    flowfiles: Vec<Received>,
    shape: &BodyShape,
    spec: &BodySpec,
) -> Result<(Batch, u64), ApiError> {
    let config = &state.config;
    let fallback = fallback_format(state, stream, shape);
    let packaged = shape.package.is_some() || shape.form;
    match config.on_parse_error(stream) {
        OnParseError::Reject => {
            let batch = ingest::parse_flowfiles(flowfiles, fallback, packaged, spec).await?;
            Ok((batch, 0))
        }
        OnParseError::DeadLetter => {
            crate::deadletter::parse(state, stream, flowfiles, fallback, packaged, spec).await
        }
    }
}

/// Holds the batch for its confirming DELETE (303 with the hold's URI), or appends it and
/// answers once it is durable.
async fn deliver(
    state: &AppState,
    stream: &str,
    batch: Batch,
    hold: bool,
) -> Result<Response, ApiError> {
    let config = &state.config;
    if hold {
        let Some(id) = state.holds.put(stream.to_owned(), batch) else {
            return Err(ApiError::Unavailable {
                reason: "too many unconfirmed holds; retry later".into(),
                retry_after: config.retry_after_secs,
            });
        };
        let location = format!("{}/holds/{id}", super::prefix(&config.base_path));
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
    let records = batch.records();
    let receipt = state
        .landing
        .append(stream, batch)
        .await
        .map_err(|e| ApiError::from_append(e, config.retry_after_secs))?;
    state.counters.accepted(stream, records);
    Ok(super::accepted(state, stream, receipt))
}
