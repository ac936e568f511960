//! Landing settings: one [`StreamConfig`] per named stream, plus the spool.

use std::path::PathBuf;
use std::time::Duration;

use records::landed::{Codec, Envelope};

/// When a request is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// After the records are in the spool and fsync'd (group commit). The default.
    #[default]
    Durable,
    /// After the batch file holding the records is in the sink (can wait up to `max_age`).
    Landed,
    /// After the records are written to the spool, without waiting for fsync: an OS crash
    /// can lose acknowledged records. For throughput tests and replayable sources only.
    Received,
}

impl std::fmt::Display for AckMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AckMode::Durable => "durable",
            AckMode::Landed => "landed",
            AckMode::Received => "received",
        })
    }
}

impl std::str::FromStr for AckMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "durable" => Ok(AckMode::Durable),
            "landed" => Ok(AckMode::Landed),
            "received" => Ok(AckMode::Received),
            _ => Err(format!(
                "unknown ack mode {s:?} (expected durable, landed or received)"
            )),
        }
    }
}

/// The landing defaults, each declared once: [`StreamConfig::new`] and [`Compression::default`]
/// use them, and snowstream's settings declare them as theirs.
pub mod defaults {
    use std::time::Duration;

    /// Close a batch file at this many uncompressed bytes: 128 MiB (Snowpipe's sweet spot of
    /// 100-250 MB compressed is well above).
    pub const BATCH_MAX_BYTES: u64 = 128 << 20;
    /// Close a batch file at this many records.
    pub const BATCH_MAX_RECORDS: u64 = 1_000_000;
    /// Close a batch file this long after it was opened.
    pub const BATCH_MAX_AGE: Duration = Duration::from_secs(60);
    /// Refuse new records while the spool holds this much.
    pub const SPOOL_MAX_BYTES: u64 = 1 << 30;
    /// Segments encoding at once per stream (0 = one per core plus one).
    pub const ENCODE_CONCURRENCY: u64 = 0;
    /// zstd level of `zstd` without one, and of the default compression.
    ///
    /// Level 1, not zstd's own default 3: on the 2-core box of issue 14 the lander's zstd is
    /// about half of the receiver's CPU, and level 1 compresses about 2.5x faster for files
    /// about 23% larger (ratio ~8x instead of ~10x on landed NDJSON, docs/performance.md).
    /// `--compression zstd:3` (or higher) trades that CPU back for smaller files.
    pub const ZSTD_LEVEL: i32 = 1;
    /// gzip level of `gzip` without one.
    pub const GZIP_LEVEL: u32 = 6;
}

/// Compression of landed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd { level: i32 },
    Gzip { level: u32 },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd {
            level: defaults::ZSTD_LEVEL,
        }
    }
}

impl Compression {
    /// The landed-file codec this compression writes (its key extension and manifest name).
    pub fn codec(&self) -> Codec {
        match self {
            Compression::Zstd { .. } => Codec::Zstd,
            Compression::Gzip { .. } => Codec::Gzip,
        }
    }

    /// The codec's name, as in the manifest: `zstd` or `gzip`.
    pub fn name(&self) -> &'static str {
        self.codec().name()
    }
}

/// As `--compression` takes it: the name alone at the default level (`zstd`), else
/// `name:level`.
impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Compression::Zstd { level } if level == defaults::ZSTD_LEVEL => f.write_str("zstd"),
            Compression::Gzip { level } if level == defaults::GZIP_LEVEL => f.write_str("gzip"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
            Compression::Gzip { level } => write!(f, "gzip:{level}"),
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad_level = |l: &str| format!("bad compression level {l:?} in {s:?}");
        match name.to_ascii_lowercase().as_str() {
            "zstd" => Ok(Compression::Zstd {
                level: level.map_or(Ok(defaults::ZSTD_LEVEL), |l| {
                    l.parse().map_err(|_| bad_level(l))
                })?,
            }),
            "gzip" | "gz" => Ok(Compression::Gzip {
                level: level.map_or(Ok(defaults::GZIP_LEVEL), |l| {
                    l.parse().map_err(|_| bad_level(l))
                })?,
            }),
            _ => Err(format!(
                "unknown compression {s:?} (expected zstd[:level] or gzip[:level])"
            )),
        }
    }
}

/// One named stream: its own landing prefix and batch limits.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Stream name; also the key segment after the prefix (e.g. `customers`).
    pub name: String,
    /// Key prefix inside the sink, without leading/trailing `/` (may be empty).
    pub prefix: String,
    /// Close a batch file at this many uncompressed bytes ([`defaults::BATCH_MAX_BYTES`]).
    pub max_bytes: u64,
    /// Close a batch file at this many records ([`defaults::BATCH_MAX_RECORDS`]).
    pub max_records: u64,
    /// Close a batch file this long after it was opened ([`defaults::BATCH_MAX_AGE`]).
    pub max_age: Duration,
    pub compression: Compression,
    pub ack: AckMode,
    /// Notify a Snowpipe through its REST API after each file lands (off when `None`).
    pub snowpipe: Option<crate::notify::SnowpipeConfig>,
    /// The form of every landed line: `meta` (record plus lineage and attributes, the
    /// default) or `record` (the record alone).
    pub envelope: Envelope,
    /// Segments between the start of their encode and the end of their landing (1 = encode
    /// and put one after the other; 0 = one per core plus one).
    pub encode_concurrency: usize,
}

impl StreamConfig {
    pub fn new(name: impl Into<String>) -> Self {
        StreamConfig {
            name: name.into(),
            prefix: String::new(),
            max_bytes: defaults::BATCH_MAX_BYTES,
            max_records: defaults::BATCH_MAX_RECORDS,
            max_age: defaults::BATCH_MAX_AGE,
            compression: Compression::default(),
            ack: AckMode::Durable,
            snowpipe: None,
            envelope: Envelope::Meta,
            encode_concurrency: defaults::ENCODE_CONCURRENCY as usize,
        }
    }
}

/// Where the spool lives and how much it may hold.
#[derive(Debug, Clone)]
pub struct LandingConfig {
    /// Spool directory (one sub-directory per stream). Must be on a local disk.
    pub spool_dir: PathBuf,
    /// Unique id of this snowstream instance; part of every landed key.
    pub instance: String,
    /// Refuse new records (503 upstream) while the spool holds more than this
    /// ([`defaults::SPOOL_MAX_BYTES`]).
    pub spool_max_bytes: u64,
    pub streams: Vec<StreamConfig>,
}

/// Checks a stream or instance name is safe in keys and paths.
pub(crate) fn valid_name(s: &str) -> bool {
    valid_instance_id(s)
}

/// Whether `s` can be an instance id (or a stream name): 1-128 of `[A-Za-z0-9._-]`, not
/// starting with '.', so it is safe in keys and paths.
pub fn valid_instance_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !s.starts_with('.')
}
