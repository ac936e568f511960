//! Record formats, with no network and no spool: what arrives and what lands.
//!
//! - **In**: the content formats a front door accepts (JSON, NDJSON, CSV), parsed into
//!   compact single-line JSON records and packed into a batch.
//! - **Out**: the landed-file format (docs/architecture.md, contract 1): keys, lines and
//!   manifests, with the one writer and the one reader of those files.
//!
//! # What arrives
//!
//! - [`Format`]: json, ndjson or csv, with the one table of their names, MIME types and file
//!   extensions ([`Format::from_mime`], [`Format::from_extension`], [`Format::from_name`]).
//! - [`parse`]: content → one single-line JSON object per record, or a [`ParseError`] naming
//!   the line of the bad record.
//! - [`Batch`]: the records of one request packed once, grouped by the attributes of the
//!   FlowFile (or object) they came from; [`batch::Payload`] reads a stored one back.
//! - [`fill_batch`]: attributes + content + format → records appended to a batch; what both
//!   front doors (ListenHTTP and S3) call.
//! - [`gunzip`] / [`Gunzip`]: the one capped gzip decoder, so a small body cannot inflate
//!   without bound ([`GunzipError::TooLarge`]).
//!
//! # What lands
//!
//! - [`landed`]: the landed-file format.

pub mod batch;
mod format;
mod gzip;
pub mod landed;
mod parse;

pub use batch::{Batch, Checkpoint};
pub use format::{Format, UnknownFormat};
pub use gzip::{Gunzip, GunzipError, gunzip};
pub use parse::keys::duplicate_key;
pub use parse::{FillError, ParseError, fill_batch, parse};
