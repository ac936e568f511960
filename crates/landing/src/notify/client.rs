//! A small client for Snowpipe's REST API: `insertFiles`, `insertReport`, `loadHistoryScan`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::jwt::JwtSigner;

/// One file in an `insertReport` or `loadHistoryScan` answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    pub path: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub complete: Option<bool>,
    #[serde(default)]
    pub rows_inserted: Option<u64>,
    #[serde(default)]
    pub rows_parsed: Option<u64>,
    #[serde(default)]
    pub errors_seen: Option<u64>,
    #[serde(default)]
    pub first_error: Option<String>,
    #[serde(default)]
    pub first_error_line_num: Option<u64>,
    #[serde(default)]
    pub system_error: Option<String>,
    #[serde(default)]
    pub last_insert_time: Option<String>,
}

/// `insertReport`'s answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertReport {
    #[serde(default)]
    pub pipe: String,
    #[serde(default)]
    pub complete_result: bool,
    #[serde(default)]
    pub next_begin_mark: Option<String>,
    #[serde(default)]
    pub files: Vec<FileReport>,
}

/// `loadHistoryScan`'s answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryScan {
    #[serde(default)]
    pub pipe: String,
    #[serde(default)]
    pub complete_result: bool,
    #[serde(default)]
    pub files: Vec<FileReport>,
}

/// A failed call: the HTTP status (none for network errors) and what Snowflake said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {}: {message}", status.map_or("failed".to_owned(), |s| format!("answered HTTP {s}")))]
pub struct CallError {
    pub operation: &'static str,
    pub status: Option<u16>,
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
    base: String,
    pipe: String,
    signer: Arc<JwtSigner>,
}

/// Percent-encodes a URL path segment or query value (keeps `A-Za-z0-9._-$`).
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'$') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl SnowpipeClient {
    /// `base` is e.g. `https://xy12345.snowflakecomputing.com` (no trailing path).
    pub fn new(base: &str, pipe: &str, signer: Arc<JwtSigner>) -> Result<Self, CallError> {
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
            base: base.trim_end_matches('/').to_owned(),
            pipe: pipe.to_owned(),
            signer,
        })
    }

    /// `{base}/v1/data/pipes/{pipe}/{endpoint}?requestId=…&name=value…`
    fn url(&self, endpoint: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!(
            "{}/v1/data/pipes/{}/{endpoint}?requestId={}",
            self.base,
            encode_segment(&self.pipe),
            uuid::Uuid::new_v4()
        );
        for (name, value) in query {
            url.push_str(&format!("&{name}={}", encode_segment(value)));
        }
        url
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
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    let msg = v.get("message")?.as_str()?.to_owned();
                    Some(match v.get("code").and_then(|c| c.as_str()) {
                        Some(code) => format!("{msg} (code {code})"),
                        None => msg,
                    })
                })
                .unwrap_or_else(|| body.chars().take(300).collect());
            return Err(err(Some(status.as_u16()), message));
        }
        Ok(body)
    }

    /// `POST insertFiles` with the given stage-relative paths (at most 5,000).
    pub async fn insert_files(&self, paths: &[String]) -> Result<(), CallError> {
        let body = serde_json::json!({
            "files": paths.iter().map(|p| serde_json::json!({"path": p})).collect::<Vec<_>>()
        });
        let req = self
            .http
            .post(self.url("insertFiles", &[]))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send("insertFiles", req).await.map(|_| ())
    }

    /// `GET insertReport`, from `begin_mark` when given.
    pub async fn insert_report(&self, begin_mark: Option<&str>) -> Result<InsertReport, CallError> {
        let query: Vec<(&str, &str)> = begin_mark.map(|m| ("beginMark", m)).into_iter().collect();
        let req = self.http.get(self.url("insertReport", &query));
        let body = self.send("insertReport", req).await?;
        serde_json::from_str(&body).map_err(|e| CallError {
            operation: "insertReport",
            status: Some(200),
            message: format!("unexpected answer: {e}"),
        })
    }

    /// `GET loadHistoryScan` from `start` (RFC 3339) to now.
    pub async fn load_history_scan(&self, start: &str) -> Result<HistoryScan, CallError> {
        let req = self
            .http
            .get(self.url("loadHistoryScan", &[("startTimeInclusive", start)]));
        let body = self.send("loadHistoryScan", req).await?;
        serde_json::from_str(&body).map_err(|e| CallError {
            operation: "loadHistoryScan",
            status: Some(200),
            message: format!("unexpected answer: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_are_encoded() {
        assert_eq!(encode_segment("DB.SCHEMA.PIPE_1"), "DB.SCHEMA.PIPE_1");
        assert_eq!(encode_segment("db.\"my pipe\""), "db.%22my%20pipe%22");
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
}
