//! Snowpipe's REST API over the embedded warehouse, so a REST-triggered pipeline runs locally
//! and snowstream's notifier is tested against the documented API:
//!
//! - `POST /v1/data/pipes/{pipe}/insertFiles?requestId=…` with `{"files":[{"path":…}]}` (or
//!   `text/plain`, one path a line; at most 5,000): loads the named files from the landing
//!   folder (paths relative to it, like a stage location), each at most once by the load
//!   history, then answers `{"requestId":…,"responseCode":"SUCCESS"}`. Files are loaded before
//!   the answer, so a 200 means their outcome is recorded.
//! - `GET …/insertReport?requestId=…&beginMark=…`: outcomes of the last 10 minutes (at most
//!   10,000), `nextBeginMark` to ask for newer ones only.
//! - `GET …/loadHistoryScan?startTimeInclusive=…&endTimeExclusive=…`: loads from the load
//!   history (and failures of this run) in the range.
//!
//! Each request needs `Authorization: Bearer <key-pair JWT>` signed by the configured public
//! key's private key (checked by a [`snowpipe::Verifier`]); a bad, expired or foreign token gets Snowflake's `401`
//! `{"data":null,"code":"390144","message":"JWT token is invalid. […]","success":false,"headers":null}`.
//! Unlike Snowflake, files named in an `insertFiles` call are loaded while it runs, and events
//! live in memory (the load history itself is in the database). The bodies are the
//! [`snowpipe`] wire types the notifier parses.

mod auth;
mod load;

use auth::Admitted;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use snowpipe::{
    ErrorBody, HistoryScan, InsertReport, InsertRequest, InsertResponse, MAX_FILES_PER_CALL,
    ReportStatistics, Verifier,
};

use crate::Warehouse;
use crate::error::Error;

/// What the REST pipe serves.
pub struct PipeConfig {
    /// The stage: the folder the landed files are in.
    pub landing_dir: PathBuf,
    /// Where in the stage the pipe's COPY statement reads (`FROM @stage/{location}/`, the
    /// stream's folder, as the rendered pipe reads `@…/{stream}/`). insertFiles paths are
    /// relative to it, as the REST reference says of `path` ("relative to the location in
    /// the pipe's COPY statement", Snowpipe REST API, insertFiles); empty: the stage itself.
    pub location: String,
    /// Verifies bearer tokens.
    pub verifier: Verifier,
    /// Serve only this pipe name (case-sensitive, like Snowflake); any name when `None`.
    pub pipe: Option<String>,
    /// Run the SCD tasks after each call that loaded something.
    pub run_tasks: bool,
}

/// The shared state of the REST pipe.
pub struct PipeService {
    state: Mutex<load::PipeState>,
    verifier: Verifier,
    pipe: Option<String>,
}

impl std::fmt::Debug for PipeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeService")
            .field("pipe", &self.pipe)
            .finish_non_exhaustive()
    }
}

impl PipeService {
    /// Takes over `warehouse` (its database) and serves loads from `config.landing_dir`.
    pub fn new(warehouse: Warehouse, config: PipeConfig) -> Result<Arc<Self>, Error> {
        let state = load::PipeState::new(
            warehouse,
            config.landing_dir,
            &config.location,
            config.run_tasks,
        )?;
        Ok(Arc::new(PipeService {
            state: Mutex::new(state),
            verifier: config.verifier,
            pipe: config.pipe,
        }))
    }

    /// Runs `f` on the warehouse (for counts and queries while serving).
    pub fn with_warehouse<T>(&self, f: impl FnOnce(&mut Warehouse) -> T) -> T {
        f(&mut self.state.lock().expect("lock").warehouse)
    }
}

/// The three endpoints under `/v1/data/pipes/{pipe}/`.
pub fn router(service: Arc<PipeService>) -> Router {
    Router::new()
        .route("/v1/data/pipes/{pipe}/insertFiles", post(insert_files))
        .route("/v1/data/pipes/{pipe}/insertReport", get(insert_report))
        .route(
            "/v1/data/pipes/{pipe}/loadHistoryScan",
            get(load_history_scan),
        )
        .with_state(service)
}

/// Snowflake's error answer with `status`.
fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

/// Snowflake's `400` answer.
fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "400", message.into())
}

/// Snowflake's `500` answer.
fn internal_error(message: impl ToString) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "500",
        message.to_string(),
    )
}

/// Runs `f` on the pipe's state off the async workers (the lock may be held by a long
/// insertFiles load).
async fn on_state<T: Send + 'static>(
    svc: &Arc<PipeService>,
    f: impl FnOnce(&mut load::PipeState) -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let svc = svc.clone();
    tokio::task::spawn_blocking(move || f(&mut svc.state.lock().expect("lock"))).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RequestQuery {
    request_id: Option<String>,
    begin_mark: Option<String>,
    start_time_inclusive: Option<String>,
    end_time_exclusive: Option<String>,
}

async fn insert_files(
    State(svc): State<Arc<PipeService>>,
    Path(pipe): Path<String>,
    Query(q): Query<RequestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = auth::admit(&svc, &headers, &pipe) {
        return *r;
    }
    let is_text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain"));
    let paths: Vec<String> = if is_text {
        String::from_utf8_lossy(&body)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        match serde_json::from_slice::<InsertRequest>(&body) {
            Ok(b) => b.files.into_iter().map(|f| f.path).collect(),
            Err(e) => {
                return bad_request(format!(
                    "the body must be {{\"files\":[{{\"path\":\"…\"}}]}}: {e}"
                ));
            }
        }
    };
    if paths.is_empty() {
        return bad_request("the request names no files");
    }
    if paths.len() > MAX_FILES_PER_CALL {
        return bad_request(format!(
            "{} files in one request; at most {MAX_FILES_PER_CALL} are allowed",
            paths.len()
        ));
    }
    let loaded = on_state(&svc, move |state| state.insert_files(&paths)).await;
    match loaded {
        Ok(Ok(unmatched)) => axum::Json(InsertResponse {
            request_id: q.request_id.unwrap_or_default(),
            response_code: "SUCCESS".into(),
            unmatched_pattern_files: unmatched,
        })
        .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "pipe load failed");
            internal_error(e)
        }
        Err(e) => internal_error(e),
    }
}

async fn insert_report(Admitted { svc, pipe, q }: Admitted) -> Response {
    let mark = match q.begin_mark.as_deref().map(str::parse::<u64>).transpose() {
        Ok(m) => m,
        Err(_) => {
            return bad_request("beginMark must be a value returned as nextBeginMark");
        }
    };
    let (files, next) = match on_state(&svc, move |state| state.report(mark)).await {
        Ok(v) => v,
        Err(e) => return internal_error(e),
    };
    axum::Json(InsertReport {
        pipe,
        complete_result: true,
        next_begin_mark: Some(next.to_string()),
        files,
        statistics: Some(ReportStatistics::default()),
    })
    .into_response()
}

fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, Box<Response>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Box::new(bad_request(format!(
                "{name} {s:?} is not an ISO-8601 time: {e}"
            )))
        })
}

async fn load_history_scan(Admitted { svc, pipe, q }: Admitted) -> Response {
    let Some(start) = q.start_time_inclusive.as_deref() else {
        return bad_request("startTimeInclusive is required");
    };
    let start = match parse_time("startTimeInclusive", start) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let end = match q.end_time_exclusive.as_deref() {
        Some(e) => match parse_time("endTimeExclusive", e) {
            Ok(t) => t,
            Err(r) => return *r,
        },
        None => Utc::now(),
    };
    let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let result = on_state(&svc, move |state| state.history(start, end))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match result {
        Ok((files, complete)) => {
            let inserted: Vec<&str> = files
                .iter()
                .filter_map(|f| f.last_insert_time.as_deref())
                .collect();
            let range = |t: Option<&&str>| t.map_or_else(String::new, |t| (*t).to_owned());
            let body = HistoryScan {
                pipe,
                complete_result: complete,
                start_time_inclusive: text(start),
                end_time_exclusive: text(end),
                range_start_time: range(inserted.iter().min()),
                range_end_time: range(inserted.iter().max()),
                files,
            };
            axum::Json(body).into_response()
        }
        Err(e) => internal_error(e),
    }
}
