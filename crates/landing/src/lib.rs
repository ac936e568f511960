//! Landing: turns acknowledged records into Snowpipe-sized files.
//!
//! Records are appended to a per-stream spool with group commit (one fsync covers every
//! request that arrived meanwhile), cut into batches by size, count or age, encoded as
//! compressed NDJSON with ingestion metadata, and put to a sink (local folder or S3)
//! under unique, immutable keys. Nothing acknowledged is lost across restarts: on start,
//! every segment left in the spool is landed under the key it would have had.
//!
//! The [`Landing`] service is the way in; its parts, by concern:
//!
//! - `startup`: [`Landing::start`] checks the configuration, locks the spool, recovers what
//!   an earlier run left and starts each stream's writer, lander and notifier;
//! - `service`: [`Landing::append`], [`Landing::flush`], [`Landing::shutdown`] and status;
//! - `parts`: [`Landing::begin_parts`], one large request appended in parts ([`PartsAppend`]),
//!   never held whole in memory, acknowledged (and after a crash landed) all or nothing;
//! - `passthrough`: [`Landing::put_whole`], objects put to the sink unchanged, in their own key namespace;
//! - `spool`: segment files and the per-stream writer thread with group commit;
//! - `lander`: encodes sealed segments and puts them to the [`sink`], then notifies;
//! - `gauge`: the spool's size against its limit; `retry`: the one backoff policy;
//! - [`metric_names`]: every metric snowstream publishes; [`notify`]: Snowpipe `insertFiles`;
//! - [`config`](LandingConfig) and [errors](AppendError).

mod config;
mod encode;
mod error;
mod gauge;
mod lander;
pub mod metric_names;
pub mod notify;
mod parts;
pub mod passthrough;
mod retry;
mod service;
pub mod sink;
mod spool;
pub mod stale;
mod startup;
pub mod status;

pub use config::{AckMode, Compression, LandingConfig, StreamConfig, defaults, valid_instance_id};
pub use error::{AppendError, LandingError};
pub use parts::PartsAppend;
pub use service::Landing;
pub use spool::Receipt;
