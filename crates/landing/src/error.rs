//! The errors the landing service gives back: [`AppendError`] per request, [`LandingError`]
//! when it cannot start.

use std::io;

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
    /// The spool could not take or keep the records and needs a human (or a restart).
    #[error("spool error: {0}")]
    Spool(String),
    /// The spool disk is full or failing (ENOSPC, EDQUOT, EFBIG, EIO) while taking the
    /// records. Nothing of the request was kept (its frames were cut off the segment), and the
    /// stream takes records again once the fault clears: answer 503 with Retry-After.
    #[error("spool disk unavailable, nothing was kept; retry later: {0}")]
    DiskFault(String),
    /// A pass-through object's key cannot be used as a key in the sink.
    #[error("{0}")]
    InvalidKey(String),
    /// A pass-through object could not be put to the sink (after retrying when `retryable`).
    #[error("could not land the object: {message}")]
    Sink { message: String, retryable: bool },
}

impl AppendError {
    /// Whether the request was refused with nothing of it kept and the same request may be
    /// accepted later (a full spool, a full or failing disk, shutting down).
    pub fn is_retryable(&self) -> bool {
        match self {
            AppendError::SpoolFull { .. }
            | AppendError::ShuttingDown
            | AppendError::DiskFault(_) => true,
            AppendError::Sink { retryable, .. } => *retryable,
            AppendError::UnknownStream(_) | AppendError::Spool(_) | AppendError::InvalidKey(_) => {
                false
            }
        }
    }

    /// The error for a spool operation (`what`, e.g. "fsync the spool") that failed with `e`:
    /// [`AppendError::DiskFault`] when the disk is full or failing, else [`AppendError::Spool`].
    pub(crate) fn from_io(what: &str, e: &io::Error) -> AppendError {
        let message = format!("could not {what}: {e}");
        if is_disk_fault(e) {
            AppendError::DiskFault(message)
        } else {
            AppendError::Spool(message)
        }
    }
}

/// Linux `EIO`: the device failed a read or write.
const EIO: i32 = 5;

/// Whether `e` says the disk is full (ENOSPC, EDQUOT, EFBIG: the write may succeed once space
/// is freed) or failing (EIO: may succeed on a retry, e.g. after a transient device error).
pub(crate) fn is_disk_fault(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge
    ) || e.raw_os_error() == Some(EIO)
}

/// The error a failpoint injects: `return(eio)` gives EIO, plain `return` (or any other
/// argument) ENOSPC, so fault tests see the errors a real full or failing disk gives.
pub(crate) fn injected_io_error(arg: Option<String>) -> io::Error {
    /// Linux `ENOSPC`.
    const ENOSPC: i32 = 28;
    let errno = match arg.as_deref() {
        Some("eio") => EIO,
        _ => ENOSPC,
    };
    io::Error::from_raw_os_error(errno)
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
