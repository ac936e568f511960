//! Errors answered to HTTP clients: a status and a readable reason, never a secret; a 401
//! carries its [`Challenge`] (the `WWW-Authenticate` schemes `auth` asks for) to the response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{}", .0.message())]
    Unauthorized(Challenge),
    /// A client certificate the authorized DN pattern refuses (ListenHTTP answers 403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body is over the {0}-byte limit (after decompression)")]
    TooLarge(u64),
    /// Over a limit other than the body size (expanded size, FlowFiles, attribute bytes);
    /// the text names the limit.
    #[error("{0}")]
    OverLimit(String),
    /// A `Content-Encoding` we cannot decode (RFC 9110 §15.5.16: 415, not data).
    #[error("Content-Encoding {0:?} is not supported (send gzip or no encoding)")]
    UnsupportedEncoding(String),
    #[error("{reason}")]
    Unavailable { reason: String, retry_after: u32 },
    /// The body stalled longer than the body read timeout allows.
    #[error("the request body stalled past the body read timeout; nothing of it was kept")]
    Timeout,
    #[error("{0}")]
    Internal(String),
}

/// Which challenges a 401 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `WWW-Authenticate: Bearer`.
    Bearer,
    /// `WWW-Authenticate: Basic realm="snowstream"`.
    Basic,
    /// Both, Basic first (what PostHTTP's client answers).
    Both,
}

impl Challenge {
    /// The 401's text.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Challenge::Bearer => "missing or wrong bearer token",
            _ => "missing or wrong credentials",
        }
    }

    /// The `WWW-Authenticate` values, in order.
    pub(crate) fn values(self) -> &'static [&'static str] {
        const BASIC: &str = "Basic realm=\"snowstream\"";
        match self {
            Challenge::Bearer => &["Bearer"],
            Challenge::Basic => &[BASIC],
            Challenge::Both => &[BASIC, "Bearer"],
        }
    }
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) | ApiError::OverLimit(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short label for the `reason` of the rejected-requests metric.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge(_) | ApiError::OverLimit(_) => "too_large",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ApiError {
    /// The 503 for a request whose body did not fit in the body budget.
    pub(crate) fn over_budget(e: crate::budget::OverBudget) -> Self {
        ApiError::Unavailable {
            reason: e.to_string(),
            retry_after: 1,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!(landing::metric_names::REJECTED_TOTAL, "reason" => self.label())
            .increment(1);
        let status = self.status();
        if matches!(self, ApiError::Internal(_)) {
            tracing::warn!(%status, reason = %self, "request not accepted");
        } else {
            tracing::debug!(%status, reason = %self, "request rejected");
        }
        let mut resp = (status, format!("{self}\n")).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match &self {
            ApiError::Unavailable { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Unauthorized(challenge) => {
                for value in challenge.values() {
                    headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
                }
            }
            _ => {}
        }
        resp
    }
}

/// A gzip request body that is corrupt (400) or inflates past the request limit (413).
impl From<records::GunzipError> for ApiError {
    fn from(e: records::GunzipError) -> Self {
        match e {
            records::GunzipError::TooLarge { limit } => ApiError::TooLarge(limit),
            records::GunzipError::Corrupt(_) => ApiError::BadRequest(format!("body is {e}")),
        }
    }
}

impl ApiError {
    pub(crate) fn from_append(e: landing::AppendError, retry_after: u32) -> ApiError {
        use landing::AppendError as A;
        match e {
            A::UnknownStream(_) => ApiError::NotFound(e.to_string()),
            // A full or failing disk clears: 503 + Retry-After, as for a full spool.
            A::SpoolFull { .. } | A::ShuttingDown | A::DiskFault(_) => ApiError::Unavailable {
                reason: e.to_string(),
                retry_after,
            },
            A::Sink {
                retryable: true, ..
            } => ApiError::Unavailable {
                reason: e.to_string(),
                retry_after,
            },
            A::Spool(_) | A::Sink { .. } | A::InvalidKey(_) => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full or failing spool disk is a 503 with Retry-After (clients back off and retry),
    /// not a 500; a spool that needs a restart stays a 500.
    #[test]
    fn disk_faults_answer_503_with_retry_after() {
        let full = ApiError::from_append(landing::AppendError::DiskFault("ENOSPC".into()), 7);
        let resp = full.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let broken = ApiError::from_append(landing::AppendError::Spool("broken".into()), 7);
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
