//! A small client for Snowpipe's REST API: `insertFiles`, `insertReport`, `loadHistoryScan`,
//! each authenticated with a key-pair JWT from a [`JwtSigner`].

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::sign::JwtSigner;
use crate::wire::{
    ErrorBody, FileReport, HistoryScan, InsertReport, InsertRequest, InsertResponse,
};

/// A failed call: the HTTP status (none for network errors) and what Snowflake said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {}: {message}", status.map_or("failed".to_owned(), |s| format!("answered HTTP {s}")))]
pub struct CallError {
    /// The endpoint called, e.g. `insertFiles`.
    pub operation: &'static str,
    /// The HTTP status of the answer; `None` when there was none.
    pub status: Option<u16>,
    /// Snowflake's message (with its code), or what went wrong on the way.
    pub message: String,
}

impl CallError {
    /// Network errors, 408, 429 and 5xx may pass; other answers need a fix in the setup
    /// (they are retried too, more slowly, so a fixed grant resumes notifying by itself).
    pub fn is_transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 408 || s == 429 || s >= 500,
        }
    }
}

/// Talks to one pipe.
pub struct SnowpipeClient {
    http: reqwest::Client,
    base: url::Url,
    pipe: String,
    signer: Arc<JwtSigner>,
}

/// `{base}/v1/data/pipes/{pipe}/{endpoint}?requestId={request_id}&name=value…`, each path
/// segment and query value percent-encoded by the `url` crate.
fn endpoint_url(
    base: &url::Url,
    pipe: &str,
    endpoint: &str,
    request_id: &str,
    query: &[(&str, &str)],
) -> url::Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("checked in SnowpipeClient::new: an http(s) URL")
        .pop_if_empty()
        .extend(["v1", "data", "pipes", pipe, endpoint]);
    url.query_pairs_mut()
        .append_pair("requestId", request_id)
        .extend_pairs(query);
    url
}

/// The message of a refusal: Snowflake's `message (code …)`, else the start of the body.
fn refusal_message(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody {
            message,
            code: Some(code),
            ..
        }) => format!("{message} (code {code})"),
        Ok(ErrorBody { message, .. }) => message,
        Err(_) => body.chars().take(300).collect(),
    }
}

impl SnowpipeClient {
    /// `base` is e.g. `https://xy12345.snowflakecomputing.com` (no trailing path).
    pub fn new(base: &str, pipe: &str, signer: Arc<JwtSigner>) -> Result<Self, CallError> {
        let bad_base = |why: String| CallError {
            operation: "reading the Snowflake account URL",
            status: None,
            message: format!("{base:?}: {why}"),
        };
        let base = url::Url::parse(base.trim()).map_err(|e| bad_base(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad_base("not an http(s) URL".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CallError {
                operation: "building the HTTP client",
                status: None,
                message: e.to_string(),
            })?;
        Ok(SnowpipeClient {
            http,
            base,
            pipe: pipe.to_owned(),
            signer,
        })
    }

    /// `{base}/v1/data/pipes/{pipe}/{endpoint}?requestId=…&name=value…`
    fn url(&self, endpoint: &str, query: &[(&str, &str)]) -> url::Url {
        let id = uuid::Uuid::new_v4().to_string();
        endpoint_url(&self.base, &self.pipe, endpoint, &id, query)
    }

    async fn send(
        &self,
        operation: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<String, CallError> {
        let err = |status, message| CallError {
            operation,
            status,
            message,
        };
        let token = self.signer.token().map_err(|e| err(None, e.to_string()))?;
        let resp = req
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| err(None, format!("{e:#}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| err(Some(status.as_u16()), format!("reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(err(Some(status.as_u16()), refusal_message(&body)));
        }
        Ok(body)
    }

    /// A GET whose JSON answer is parsed as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        query: &[(&str, &str)],
    ) -> Result<T, CallError> {
        let req = self.http.get(self.url(operation, query));
        let body = self.send(operation, req).await?;
        serde_json::from_str(&body).map_err(|e| CallError {
            operation,
            status: Some(200),
            message: format!("unexpected answer: {e}"),
        })
    }

    /// `POST insertFiles` with the given paths, relative to the pipe's location (at most
    /// [`crate::MAX_FILES_PER_CALL`]); the answer, with the files the pipe's PATTERN skipped.
    pub async fn insert_files(&self, paths: &[String]) -> Result<InsertResponse, CallError> {
        let body =
            serde_json::to_string(&InsertRequest::from_paths(paths)).map_err(|e| CallError {
                operation: "insertFiles",
                status: None,
                message: format!("encoding the request: {e}"),
            })?;
        let req = self
            .http
            .post(self.url("insertFiles", &[]))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let body = self.send("insertFiles", req).await?;
        // A 200 is the acceptance; its body only adds detail, so one that does not parse
        // (an older or newer answer) is taken as the plain SUCCESS.
        Ok(serde_json::from_str(&body).unwrap_or_default())
    }

    /// `GET insertReport`, from `begin_mark` when given.
    pub async fn insert_report(&self, begin_mark: Option<&str>) -> Result<InsertReport, CallError> {
        let query: Vec<(&str, &str)> = begin_mark.map(|m| ("beginMark", m)).into_iter().collect();
        self.get("insertReport", &query).await
    }

    /// `GET loadHistoryScan` over `[start, end)` (RFC 3339; `end` omitted: to now), every
    /// page of it: while an answer says `completeResult` is false (more than 10,000 loads in
    /// the range), the next page starts at its `rangeEndTime`, as the REST reference says to
    /// page. At most `max_pages` calls (Snowflake answers 429 to frequent scans); the files of
    /// every page, and whether the last page was complete.
    pub async fn load_history_scan(
        &self,
        start: &str,
        end: Option<&str>,
        max_pages: usize,
    ) -> Result<(Vec<FileReport>, bool), CallError> {
        let mut files = Vec::new();
        let mut from = start.to_owned();
        for _ in 0..max_pages.max(1) {
            let mut query = vec![("startTimeInclusive", from.as_str())];
            if let Some(end) = end {
                query.push(("endTimeExclusive", end));
            }
            let page: HistoryScan = self.get("loadHistoryScan", &query).await?;
            files.extend(page.files);
            // A page that ends where it began would be asked for again forever.
            let next = page.range_end_time;
            if page.complete_result || next.is_empty() || next == from {
                return Ok((files, page.complete_result));
            }
            from = next;
        }
        Ok((files, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_and_query_values_are_encoded() {
        let base = url::Url::parse("https://xy12345.snowflakecomputing.com/").unwrap();
        let url = |pipe, query| endpoint_url(&base, pipe, "insertReport", "r-1", query);
        assert_eq!(
            url("DB.SCHEMA.PIPE_1", &[]).as_str(),
            "https://xy12345.snowflakecomputing.com/v1/data/pipes/DB.SCHEMA.PIPE_1/insertReport?requestId=r-1"
        );
        assert_eq!(
            url("db.\"my pipe\"", &[("beginMark", "a b&c")]).as_str(),
            "https://xy12345.snowflakecomputing.com/v1/data/pipes/db.%22my%20pipe%22/insertReport?requestId=r-1&beginMark=a+b%26c"
        );
        let local = url::Url::parse("http://127.0.0.1:9/").unwrap();
        assert_eq!(
            endpoint_url(&local, "P", "insertFiles", "x", &[]).path(),
            "/v1/data/pipes/P/insertFiles"
        );
    }

    #[test]
    fn transient_errors() {
        let e = |status| CallError {
            operation: "insertFiles",
            status,
            message: String::new(),
        };
        assert!(e(None).is_transient());
        assert!(e(Some(503)).is_transient());
        assert!(e(Some(429)).is_transient());
        assert!(!e(Some(401)).is_transient());
        assert!(!e(Some(404)).is_transient());
    }

    #[test]
    fn refusals_quote_snowflakes_message_and_code() {
        let body = r#"{"data":null,"code":"390144","message":"JWT token is invalid.","success":false,"headers":null}"#;
        assert_eq!(refusal_message(body), "JWT token is invalid. (code 390144)");
        assert_eq!(refusal_message(r#"{"message":"no"}"#), "no");
        let long = "x".repeat(400);
        assert_eq!(refusal_message(&long), "x".repeat(300));
    }
}
