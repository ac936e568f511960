//! The manifest written beside each landed data file (`{key}.manifest.json`).

use serde::{Deserialize, Serialize};

use super::{Codec, Envelope};

/// What a landed data file holds, as written beside it; fields in contract order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The data file's key.
    pub key: String,
    /// Stream the records belong to.
    pub stream: String,
    /// Instance that landed the file.
    pub instance: String,
    /// Number of records (lines) in the file.
    pub records: u64,
    /// Sequence number of the first line.
    pub first_seq: u64,
    /// Sequence number of the last line.
    pub last_seq: u64,
    /// Bytes of NDJSON before compression.
    pub uncompressed_bytes: u64,
    /// Bytes of the stored (compressed) object.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the stored object.
    pub sha256: String,
    /// The file's compression (`"zstd"` or `"gzip"`).
    pub compression: Codec,
    /// When the file was encoded, RFC 3339 UTC with milliseconds (see [`super::format_time`]).
    pub created_at: String,
    /// The form of the file's lines (`"meta"` or `"record"`); a manifest written before
    /// envelopes existed has none, which means `meta`.
    #[serde(default)]
    pub envelope: Envelope,
}
