//! Sinks: where landed files end up (a local folder or an S3 bucket).
//!
//! A [`Sink`] stores whole objects under '/'-separated relative keys such as
//! `customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst`. Every put is atomic:
//! a reader never sees a partial object under a key. One module per backend, all behind the
//! same small trait, so the batcher does not care where files go.

use std::path::Path;

pub mod local;
pub mod s3;

pub use local::LocalSink;
pub use s3::{S3Sink, S3SinkConfig};

/// A place that stores landed files and their manifests.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Store the local file at `path` under `key`, replacing any object already there. Atomic:
    /// readers never see a partial object under `key`. Called from a tokio runtime.
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), SinkError>;
    /// Same for a small in-memory body (manifests).
    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<(), SinkError>;
    /// e.g. "local:/abs/path" or "s3://bucket" (no secrets) for logs and metrics labels.
    fn describe(&self) -> String;
}

/// Why a put failed: names the backend and the key, and tells whether retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The key is not a clean relative '/'-separated path. Retrying cannot help.
    #[error("invalid sink key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The sink could not be set up (bad root folder, bad S3 settings). Retrying cannot help.
    #[error("{backend}: cannot set up the sink: {message}")]
    Config { backend: String, message: String },
    /// A file-system operation failed while storing `key`.
    #[error("{backend}: cannot store {key:?}: {action}: {source}")]
    Io {
        backend: String,
        key: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// An S3 request failed while storing `key`.
    #[error("{backend}: cannot store {key:?}: {operation} failed: {message}")]
    S3 {
        backend: String,
        key: String,
        operation: &'static str,
        message: String,
        retryable: bool,
    },
}

impl SinkError {
    /// Whether the same put may succeed later (network down, server busy, disk full), as
    /// opposed to errors that need a human (bad key, access denied, missing bucket).
    pub fn is_retryable(&self) -> bool {
        match self {
            SinkError::InvalidKey { .. } | SinkError::Config { .. } => false,
            SinkError::Io { source, .. } => io_retryable(source),
            SinkError::S3 { retryable, .. } => *retryable,
        }
    }
}

/// Failpoint `sink-put`, checked before every put of a landed file, manifest or pass-through
/// object: `return` fails the put with ENOSPC, `return(eio)` with EIO, as a sink on a full or
/// failing disk does (a retryable [`SinkError::Io`]).
pub(crate) fn injected_put_fault(backend: &str, key: &str) -> Result<(), SinkError> {
    let fault = |arg: Option<String>| SinkError::Io {
        backend: backend.to_owned(),
        key: key.to_owned(),
        action: "put (failpoint sink-put)",
        source: crate::error::injected_io_error(arg),
    };
    fail::fail_point!("sink-put", |arg| Err(fault(arg)));
    // Without the `failpoints` feature of `fail` the failpoint compiles to nothing.
    let _ = fault;
    Ok(())
}

fn io_retryable(err: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    !matches!(
        err.kind(),
        K::NotFound
            | K::PermissionDenied
            | K::InvalidInput
            | K::InvalidData
            | K::InvalidFilename
            | K::ReadOnlyFilesystem
            | K::IsADirectory
            | K::NotADirectory
            | K::Unsupported
    )
}

/// Checks that `key` is a relative '/'-separated key without `.`/`..` or empty segments.
pub fn validate_key(key: &str) -> Result<(), SinkError> {
    let bad = |reason| {
        Err(SinkError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("the key is empty");
    }
    if key.starts_with('/') {
        return bad("the key must be relative, not start with '/'");
    }
    if key.contains('\\') {
        return bad("the key must use '/' as separator, not '\\'");
    }
    if key.contains('\0') {
        return bad("the key contains a NUL character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("the key has an empty segment ('//' or a trailing '/')"),
            "." | ".." => return bad("the key has a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_partitioned_keys() {
        validate_key("customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst").unwrap();
        validate_key("a").unwrap();
        validate_key("a/.hidden/b..c").unwrap();
    }

    #[test]
    fn refuses_bad_keys() {
        for key in [
            "", "/abs", "a//b", "a/", "../x", "a/../b", "./a", "a/.", "a\\b", "a\0b",
        ] {
            let err = validate_key(key).unwrap_err();
            assert!(!err.is_retryable(), "{key:?}");
            assert!(err.to_string().contains("invalid sink key"), "{err}");
        }
    }

    #[test]
    fn io_errors_are_classified() {
        let e = |kind| SinkError::Io {
            backend: "local:/x".into(),
            key: "k".into(),
            action: "write",
            source: std::io::Error::from(kind),
        };
        assert!(e(std::io::ErrorKind::StorageFull).is_retryable());
        assert!(e(std::io::ErrorKind::Interrupted).is_retryable());
        assert!(!e(std::io::ErrorKind::PermissionDenied).is_retryable());
        assert!(!e(std::io::ErrorKind::NotFound).is_retryable());
    }
}
