//! The status snapshot: what `GET /api/status` answers and the `/ui` page draws. A stable,
//! documented API (docs/api.md); fields are only ever added.

use serde::{Deserialize, Serialize};

/// Version of the snapshot's shape; bumped only if a field changes meaning or goes away.
pub const STATUS_VERSION: u32 = 1;

/// Everything the status page shows, at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// [`STATUS_VERSION`].
    pub version: u32,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub now_ms: u64,
    /// The spool, shared by every stream.
    pub spool: SpoolStatus,
    /// One entry per configured stream, by name.
    pub streams: Vec<StreamStatus>,
    /// Extra, application-provided status (`snowstream demo --stay`: the local warehouse);
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<serde_json::Value>,
}

/// The spool's fill against its limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpoolStatus {
    /// Bytes in the spool not yet landed.
    pub used_bytes: u64,
    /// `--spool-max-bytes`.
    pub max_bytes: u64,
    /// Whether new records are being refused until files land.
    pub full: bool,
}

/// One stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamStatus {
    /// The stream's name.
    pub name: String,
    /// Records acknowledged this run.
    pub records_total: u64,
    /// Record bytes acknowledged this run (as parsed, uncompressed).
    pub bytes_total: u64,
    /// Requests (HTTP posts, S3 puts) acknowledged this run.
    pub requests_total: u64,
    /// Acknowledged records/s and MB/s, one point per 2 s sample, oldest first, up to 10 minutes.
    pub rate: Vec<RatePoint>,
    /// Ack latency over the last minute.
    pub ack_latency: Latency,
    /// Age of the open batch in seconds (`null`: no batch is open).
    pub open_batch_age_s: Option<f64>,
    /// `--batch-max-age` in seconds: the open batch closes by then.
    pub batch_max_age_s: f64,
    /// Batch files landed this run.
    pub files_landed: u64,
    /// Records in them.
    pub records_landed: u64,
    /// Bytes of them (compressed).
    pub bytes_landed: u64,
    /// When the last file landed (ms since the epoch; `null`: none this run).
    pub last_landed_ms: Option<u64>,
    /// Seconds since the last file landed, or since start when none has.
    pub since_last_landed_s: f64,
    /// The staleness threshold in seconds (`null`: not watched).
    pub stale_after_s: Option<f64>,
    /// Whether the stream is stale now (nothing landed for `stale_after_s`).
    pub stale: bool,
    /// The last files landed, newest first (up to 20).
    pub recent_files: Vec<LandedFile>,
    /// The Snowpipe REST notifier (`null` when the stream has none).
    pub snowpipe: Option<crate::notify::SnowpipeStatus>,
}

/// One rate sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RatePoint {
    /// End of the sample interval (ms since the epoch).
    pub at_ms: u64,
    /// Records acknowledged per second over the interval.
    pub records_per_s: f64,
    /// Megabytes (10⁶ bytes) acknowledged per second over the interval.
    pub mb_per_s: f64,
}

/// Ack latency percentiles: the upper bound of the histogram bucket holding the percentile
/// (buckets 0.5, 1, 2.5, 5, 10, 25, … 10,000 ms).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Requests counted.
    pub count: u64,
    /// Median, ms (`null` without requests).
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

/// A landed batch file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LandedFile {
    /// Its key in the sink.
    pub key: String,
    /// Records in it.
    pub records: u64,
    /// Its size (compressed).
    pub bytes: u64,
    /// When it landed (ms since the epoch).
    pub landed_ms: u64,
}
