//! The errors the landing service gives back: [`AppendError`] per request, [`LandingError`]
//! when it cannot start.

/// Why a request's records were not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// The request names a stream that is not configured.
    #[error("no stream named {0:?} is configured")]
    UnknownStream(String),
    /// The spool holds as much as it may; the client should retry once files have landed.
    #[error("spool is full ({used} of {max} bytes waiting to land); retry later")]
    SpoolFull { used: u64, max: u64 },
    /// [`Landing::shutdown`](crate::Landing::shutdown) was called.
    #[error("snowstream is shutting down")]
    ShuttingDown,
    /// The spool could not take or keep the records (write, fsync or corrupt segment).
    #[error("spool error: {0}")]
    Spool(String),
    /// A pass-through object's key cannot be used as a key in the sink.
    #[error("{0}")]
    InvalidKey(String),
    /// A pass-through object could not be put to the sink (after retrying when `retryable`).
    #[error("could not land the object: {message}")]
    Sink { message: String, retryable: bool },
}

/// Errors starting the landing service.
#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    /// The configuration cannot be used as given.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The spool directory (or a stream's folder in it) cannot be set up.
    #[error("spool directory {path}: {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
