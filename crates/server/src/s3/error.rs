//! The S3 errors the front door's operations share: an internal failure, a gzip object that
//! does not inflate, a full spool (SlowDown with Retry-After), and a refused append.
//! Errors that belong to one operation are made where that operation is.

use records::GunzipError;
use s3s::{S3Error, s3_error};

/// Any failure of ours (I/O, a task that panicked): an InternalError with its text.
pub(crate) fn internal(e: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{e}")
}

/// A corrupt gzip object is a bad argument; one that inflates past the limit is too large.
pub(crate) fn gzip_error(e: GunzipError) -> S3Error {
    match e {
        GunzipError::TooLarge { .. } => s3_error!(EntityTooLarge, "object is {e}"),
        GunzipError::Corrupt(_) => s3_error!(InvalidArgument, "object is {e}"),
    }
}

/// SlowDown, with `Retry-After: {retry_after}`: the client backs off and retries.
pub(crate) fn slow_down(reason: &str, retry_after: u32) -> S3Error {
    let mut e = s3_error!(SlowDown, "{reason}");
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(retry_after),
    );
    e.set_headers(h);
    e
}

/// An append the spool or sink refused: SlowDown when it clears by itself (a full or failing
/// spool disk, a retryable sink, shutdown), InvalidArgument for a key it refuses, else
/// InternalError.
pub(crate) fn append_error(e: landing::AppendError, retry_after: u32) -> S3Error {
    use landing::AppendError as A;
    match e {
        A::SpoolFull { .. } | A::ShuttingDown | A::DiskFault(_) => {
            slow_down(&e.to_string(), retry_after)
        }
        A::UnknownStream(_) => s3_error!(
            InternalError,
            "the bucket's stream is not configured in snowstream: {e}"
        ),
        A::Sink {
            retryable: true, ..
        } => slow_down(&e.to_string(), retry_after),
        A::Spool(_) | A::Sink { .. } => s3_error!(InternalError, "{e}"),
        A::InvalidKey(_) => s3_error!(InvalidArgument, "{e}"),
    }
}
