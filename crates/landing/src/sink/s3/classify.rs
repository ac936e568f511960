//! Checks of the settings, and what an S3 error means for the put that got it.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::S3SinkConfig;
use crate::sink::SinkError;

pub(super) fn check(cfg: &S3SinkConfig) -> Result<(), SinkError> {
    let bad = |message: &str| {
        Err(SinkError::Config {
            backend: format!("s3://{}", cfg.bucket),
            message: message.to_owned(),
        })
    };
    if cfg.bucket.is_empty() {
        return bad("no bucket is configured");
    }
    if cfg.max_attempts == 0 {
        return bad("max_attempts must be at least 1");
    }
    if cfg.multipart_threshold == 0 {
        return bad("multipart_threshold must be at least 1 byte");
    }
    Ok(())
}

/// Whether S3 refused a conditional write because an object is under the key (412).
pub(super) fn precondition_failed<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> bool {
    matches!(err, SdkError::ServiceError(ctx)
        if ctx.raw().status().as_u16() == 412 || ctx.err().code() == Some("PreconditionFailed"))
}

/// Network trouble, timeouts, throttling and server-side errors may pass; anything else (access
/// denied, missing bucket, malformed request) needs a human.
pub(super) fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(failure) => !failure.is_user(),
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or_default();
            status >= 500
                || status == 408
                || status == 429
                || matches!(
                    code,
                    "SlowDown"
                        // Two conditional writes of one key at once (409): retry decides.
                        | "ConditionalRequestConflict"
                        | "RequestTimeout"
                        | "InternalError"
                        | "ServiceUnavailable"
                        | "ExpiredToken"
                        | "RequestTimeTooSkewed"
                )
        }
        // Timeouts, unreadable responses and future kinds of failure: worth another try.
        _ => true,
    }
}
