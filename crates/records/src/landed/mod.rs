//! The landed-file format (docs/architecture.md, contract 1): the one writer and the one
//! reader of the files landing puts to a sink.
//!
//! - [`LandedKey`] formats and parses keys:
//!   `{prefix}/{stream}/dt=YYYY-MM-DD/hh=HH/{instance}-{first_seq:020}.ndjson.zst` (or
//!   `.ndjson.gz`); [`is_data_file`] tells data files from manifests, temp files and other
//!   objects.
//! - [`Manifest`] is the `{key}.manifest.json` written beside each data file.
//! - [`Envelope`] is a stream's line form: `meta` (`{"record":{…},"meta":{…}}`, the
//!   default) or `record` (the record alone); [`Lineage`] is where a line came from.
//! - [`LineWriter`] builds each line in the stream's envelope.
//! - [`open`] gives a [`LandedFile`] that decompresses a data file (codec by its name);
//!   [`lines`] and [`LandedLine`] split and parse its text.

mod envelope;
mod key;
mod line;
mod manifest;
mod read;

pub use envelope::{Envelope, Lineage};
pub use key::{Codec, KeyError, LandedKey, data_key_of_manifest, is_data_file, manifest_key};
pub use line::{LandedLine, LineError, LineWriter, format_time, lines};
pub use manifest::Manifest;
pub use read::{LandedFile, ReadError, open};

#[cfg(test)]
mod tests;
