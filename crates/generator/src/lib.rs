//! Generator: realistic customer change streams (inserts, updates, deletes) with the
//! messiness real pipelines see (duplicates, reordering, late data), posted to NiFi or
//! snowstream, plus an oracle of the SCD1/SCD2 state the warehouse must reach.
//!
//! [`generate`] (or a [`Generator`] for endless streams) yields contract-2 records in
//! delivery order, deterministically for a [`Config`]; [`encode_batch`] writes them as JSON,
//! NDJSON, CSV or FlowFile v3; [`send_http`] and [`write_files`] deliver them; and
//! [`oracle::compute`] derives the contract-3 state from whatever was delivered.

mod encode;
mod files;
mod http;
pub mod oracle;
mod people;
mod progress;
mod record;
mod stream;

use std::path::{Path, PathBuf};

pub use encode::{Format, decode_batch, encode_batch, encode_batch_with};
pub use files::{FileWriter, write_files};
pub use http::{HttpSender, HttpTarget, Pacer, send_batches, send_http};
pub use progress::{Progress, ProgressDisplay, Summary};
pub use record::{COLUMNS, Customer, EventTime, Op};
pub use stream::{Config, GenStats, Generator, generate};

/// Why generating or delivering failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    #[error("invalid settings: {0}")]
    InvalidConfig(String),
    #[error("{url} rejected the batch with HTTP {status}: {reason}")]
    Rejected {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("gave up posting to {url} after {attempts} attempts; last error: {last}")]
    GaveUp {
        url: String,
        attempts: u32,
        last: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the {format} batch: {reason}")]
    Decode { format: Format, reason: String },
}

impl GenError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        GenError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
