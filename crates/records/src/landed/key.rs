//! Keys of landed files: formatting, parsing, and telling data files from everything else.

use std::fmt;

use chrono::{DateTime, NaiveDate, Timelike};
use serde::{Deserialize, Serialize};

/// What every data file's name ends with before the codec's extension.
const DATA_SUFFIX: &str = ".ndjson.";
/// What a manifest's key adds to its data file's key.
const MANIFEST_SUFFIX: &str = ".manifest.json";
/// Digits of `first_seq` in a key (zero-padded, so keys sort in sequence order).
const SEQ_DIGITS: usize = 20;

/// How a landed data file is compressed; named in the key's extension and the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Zstandard (`.ndjson.zst`, manifest `"zstd"`).
    Zstd,
    /// Gzip (`.ndjson.gz`, manifest `"gzip"`).
    Gzip,
}

impl Codec {
    const ALL: [Codec; 2] = [Codec::Zstd, Codec::Gzip];

    /// File name extension after `.ndjson`: `zst` or `gz`.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Zstd => "zst",
            Codec::Gzip => "gz",
        }
    }

    /// The name in the manifest's `compression` field: `zstd` or `gzip`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Zstd => "zstd",
            Codec::Gzip => "gzip",
        }
    }

    /// The codec a key or file name ends with (`*.ndjson.zst` / `*.ndjson.gz`), if any.
    pub fn of_name(name: &str) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| {
            name.strip_suffix(c.extension())
                .is_some_and(|rest| rest.ends_with(DATA_SUFFIX))
        })
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `key` (a key, path or bare file name, `/`-separated) names a landed data file:
/// `*.ndjson.zst` or `*.ndjson.gz`, and not a temp file (leading `.`) or a manifest.
pub fn is_data_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    !name.starts_with('.') && Codec::of_name(name).is_some()
}

/// The key of the manifest beside the data file `data_key`.
pub fn manifest_key(data_key: &str) -> String {
    format!("{data_key}{MANIFEST_SUFFIX}")
}

/// The data file's key of a manifest's key, or `None` when `key` is not a manifest's.
pub fn data_key_of_manifest(key: &str) -> Option<&str> {
    key.strip_suffix(MANIFEST_SUFFIX)
        .filter(|data| is_data_file(data))
}

/// A landed data file's key, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedKey {
    /// Key prefix inside the sink, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Stream name (one key segment).
    pub stream: String,
    /// UTC date the batch was opened (`dt=`).
    pub dt: NaiveDate,
    /// UTC hour the batch was opened (`hh=`, 0-23).
    pub hh: u32,
    /// Instance that landed the file.
    pub instance: String,
    /// Sequence number of the file's first record within its stream.
    pub first_seq: u64,
    /// Compression of the file.
    pub codec: Codec,
}

/// Why a string is not a landed data file's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key:?} is not a landed data file key: {reason}")]
pub struct KeyError {
    key: String,
    reason: &'static str,
}

impl LandedKey {
    /// The key of a batch opened at `opened_at_ms` (Unix milliseconds, UTC) whose first
    /// record is `first_seq`. `prefix` loses any leading and trailing `/`.
    pub fn new(
        prefix: &str,
        stream: &str,
        instance: &str,
        opened_at_ms: i64,
        first_seq: u64,
        codec: Codec,
    ) -> LandedKey {
        let at = DateTime::from_timestamp_millis(opened_at_ms).unwrap_or_default();
        LandedKey {
            prefix: prefix.trim_matches('/').to_owned(),
            stream: stream.to_owned(),
            dt: at.date_naive(),
            hh: at.hour(),
            instance: instance.to_owned(),
            first_seq,
            codec,
        }
    }

    /// Parses a key written by [`LandedKey`]'s `Display` (the only form accepted).
    pub fn parse(key: &str) -> Result<LandedKey, KeyError> {
        let err = |reason| KeyError {
            key: key.to_owned(),
            reason,
        };
        let mut segments = key.rsplitn(5, '/');
        let file = segments.next().unwrap_or_default();
        let (Some(hh), Some(dt), Some(stream)) =
            (segments.next(), segments.next(), segments.next())
        else {
            return Err(err("expected {stream}/dt=…/hh=…/{file}"));
        };
        let prefix = segments.next().unwrap_or_default();
        let codec = Codec::of_name(file)
            .ok_or_else(|| err("the name must end .ndjson.zst or .ndjson.gz"))?;
        let stem = &file[..file.len() - DATA_SUFFIX.len() - codec.extension().len()];
        let (instance, seq) = stem
            .rsplit_once('-')
            .ok_or_else(|| err("the name must be {instance}-{first_seq}"))?;
        if seq.len() != SEQ_DIGITS || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("first_seq must be 20 digits"));
        }
        let first_seq = seq.parse().map_err(|_| err("first_seq is too large"))?;
        let dt = dt
            .strip_prefix("dt=")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| err("expected dt=YYYY-MM-DD"))?;
        let hh = hh
            .strip_prefix("hh=")
            .and_then(|h| h.parse().ok())
            .filter(|h| *h < 24)
            .ok_or_else(|| err("expected hh=HH"))?;
        if stream.is_empty() || instance.is_empty() || instance.starts_with('.') {
            return Err(err("empty stream or instance"));
        }
        let parsed = LandedKey {
            prefix: prefix.to_owned(),
            stream: stream.to_owned(),
            dt,
            hh,
            instance: instance.to_owned(),
            first_seq,
            codec,
        };
        if parsed.to_string() != key {
            return Err(err("not in canonical form"));
        }
        Ok(parsed)
    }
}

impl fmt::Display for LandedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.prefix.is_empty() {
            write!(f, "{}/", self.prefix)?;
        }
        write!(
            f,
            "{}/dt={}/hh={:02}/{}-{:0width$}{DATA_SUFFIX}{}",
            self.stream,
            self.dt.format("%Y-%m-%d"),
            self.hh,
            self.instance,
            self.first_seq,
            self.codec.extension(),
            width = SEQ_DIGITS,
        )
    }
}
