//! Sinks: where landed files end up (a local folder or an S3 bucket).
//!
//! A [`Sink`] stores whole objects under '/'-separated relative keys such as
//! `customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst`. Every put is atomic
//! (a reader never sees a partial object under a key) and **create-only**: a put never
//! replaces an object already stored under its key, it reports [`Put::Exists`] instead
//! (local: a hard link, which fails on an existing name; S3: a conditional PutObject with
//! `If-None-Match: *`). Whoever puts decides what an existing object means: the same bytes
//! put again after a crash, or a collision that must land under another key
//! ([`put_once`]). One module per backend, all behind the same small trait, so the lander
//! does not care where files go.
//!
//! A body too large to hold in memory is *staged* ([`Sink::stage`]): written in pieces as it
//! is produced, invisible under its key until [`commit`] (local: a temp file in the key's own
//! folder, linked create-only; S3: parts of a bounded size, completed with `If-None-Match:
//! *`), and left nowhere after [`Staging::abort`] or a failed commit.

use std::path::Path;

use bytes::{Bytes, BytesMut};

pub mod local;
pub mod s3;

pub use local::LocalSink;
pub use s3::{S3Sink, S3SinkConfig};

/// What a create-only put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an existing object was not replaced: compare it with what was put"]
pub enum Put {
    /// The object was stored under its key.
    Created,
    /// An object was already stored under the key; it was left as it is and nothing was
    /// written.
    Exists,
}

/// A place that stores landed files and their manifests, never replacing one.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Stores the local file at `path` under `key` unless an object is already there
    /// ([`Put::Exists`]). Atomic: readers never see a partial object under `key`. Called
    /// from a tokio runtime.
    async fn put_file(&self, key: &str, path: &Path) -> Result<Put, SinkError>;
    /// Same for an in-memory body.
    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<Put, SinkError>;
    /// The object stored under `key`, or `None` when there is none (to compare it with a
    /// body that found it there).
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError>;
    /// Starts a create-only put of `key` whose body is written in pieces; see [`Staging`].
    /// The default holds the body in memory and puts it whole at commit ([`Sink::put_bytes`]);
    /// the local and S3 sinks hold at most one part of it.
    async fn stage(&self, key: &str) -> Result<Box<dyn Staging>, SinkError> {
        validate_key(key)?;
        Ok(Box::new(Buffered {
            key: key.to_owned(),
            body: BytesMut::new(),
        }))
    }
    /// Hands the object under `key` to `each` in pieces, in order, without holding it whole
    /// (the default reads it whole with [`Sink::get`]). `false` when there is none.
    async fn read_each(
        &self,
        key: &str,
        each: &mut (dyn for<'c> FnMut(&'c [u8]) + Send),
    ) -> Result<bool, SinkError> {
        match self.get(key).await? {
            Some(body) => {
                each(&body);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    /// e.g. "local:/abs/path" or "s3://bucket" (no secrets) for logs and metrics labels.
    fn describe(&self) -> String;
}

/// A create-only put in progress ([`Sink::stage`]): nothing is visible under its key before
/// [`commit`], and nothing is left behind by [`Staging::abort`], by a failed commit, or (as
/// far as a remote store can be told without an answer) by dropping it.
#[async_trait::async_trait]
pub trait Staging: Send {
    /// The key the body goes under.
    fn key(&self) -> &str;
    /// Appends `chunk` to the body. After an error, abort.
    async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError>;
    /// Stores the body under the key unless an object is there ([`Put::Exists`]: nothing
    /// replaced, the staged body dropped). Atomic and durable as [`Sink::put_bytes`]. `sink`
    /// is the sink that staged it (the default staging puts through it).
    async fn commit(self: Box<Self>, sink: &dyn Sink) -> Result<Put, SinkError>;
    /// Drops the staged body (best effort for a remote store).
    async fn abort(self: Box<Self>);
}

/// [`Sink::stage`]'s default: the body in memory, put whole at commit.
struct Buffered {
    key: String,
    body: BytesMut,
}

#[async_trait::async_trait]
impl Staging for Buffered {
    fn key(&self) -> &str {
        &self.key
    }
    async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        self.body.extend_from_slice(&chunk);
        Ok(())
    }
    async fn commit(self: Box<Self>, sink: &dyn Sink) -> Result<Put, SinkError> {
        sink.put_bytes(&self.key, self.body.freeze()).await
    }
    async fn abort(self: Box<Self>) {}
}

/// Commits `staged` through `sink` (it must be the sink that staged it), or aborts it when the
/// failpoint `sink-put` fails the put first (as [`put_once`] does for whole bodies). The
/// caller compares an existing object ([`Put::Exists`]) with what it staged.
pub async fn commit(sink: &dyn Sink, staged: Box<dyn Staging>) -> Result<Put, SinkError> {
    if let Err(e) = injected_put_fault(&sink.describe(), staged.key()) {
        staged.abort().await;
        return Err(e);
    }
    staged.commit(sink).await
}

/// Failpoint `sink-stage-write`, checked by the local and S3 stagings before each piece they
/// write out (local: each chunk; S3: each part, and the single put of a small body): `return`
/// fails it with ENOSPC, `return(eio)` with EIO (a retryable [`SinkError::Io`]).
pub(crate) fn injected_stage_fault(backend: &str, key: &str) -> Result<(), SinkError> {
    let fault = |arg: Option<String>| SinkError::Io {
        backend: backend.to_owned(),
        key: key.to_owned(),
        action: "write a staged body (failpoint sink-stage-write)",
        source: crate::error::injected_io_error(arg),
    };
    fail::fail_point!("sink-stage-write", |arg| Err(fault(arg)));
    let _ = fault;
    Ok(())
}

/// What [`put_once`] found under the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once {
    /// Nothing was there: the body is stored now.
    Created,
    /// The same object was there already (the same put, repeated after a crash or a lost
    /// answer): nothing to do.
    Same,
    /// Another object is there, which `same` did not accept: the body was not stored. It
    /// must go under another key; the object there is handed back for the log.
    Collision(bytes::Bytes),
}

/// Puts `body` under `key` unless an object is there; when one is, reads it back and asks
/// `same` whether it stands for the same content (byte equality is checked first). The one
/// way snowstream writes to a sink, so that no put ever replaces an object.
pub async fn put_once(
    sink: &dyn Sink,
    key: &str,
    body: bytes::Bytes,
    same: impl FnOnce(&[u8]) -> bool,
) -> Result<Once, SinkError> {
    injected_put_fault(&sink.describe(), key)?;
    if sink.put_bytes(key, body.clone()).await? == Put::Created {
        return Ok(Once::Created);
    }
    match sink.get(key).await? {
        Some(there) if there == body || same(&there) => Ok(Once::Same),
        Some(there) => Ok(Once::Collision(there)),
        // Gone between the put and the read (a lifecycle rule, a person): put it again.
        None => match sink.put_bytes(key, body).await? {
            Put::Created => Ok(Once::Created),
            Put::Exists => Err(SinkError::Io {
                backend: sink.describe(),
                key: key.to_owned(),
                action: "put an object that another writer keeps replacing",
                source: std::io::Error::other("the key was taken, then emptied, then taken again"),
            }),
        },
    }
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
/// object ([`put_once`]): `return` fails the put with ENOSPC, `return(eio)` with EIO, as a
/// sink on a full or failing disk does (a retryable [`SinkError::Io`]).
fn injected_put_fault(backend: &str, key: &str) -> Result<(), SinkError> {
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
