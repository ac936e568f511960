//! Every metric snowstream publishes (Prometheus names, served at `GET /metrics`), declared
//! once here and used by `landing` and `server`. Each constant's doc says the metric's type,
//! its labels and what it counts. The `metrics` crate's macros take these as the name, e.g.
//! `metrics::counter!(REQUESTS_TOTAL, "stream" => name).increment(1)`.

// Received (crates/server).

/// Counter, labels `stream`: bytes of request bodies and S3 objects received for the stream
/// (counted once the body was parsed, whether it is then held, appended or put whole).
pub const BYTES_RECEIVED_TOTAL: &str = "snowstream_bytes_received_total";

/// Counter, labels `stream`: records appended to the stream's spool by HTTP requests (a POST,
/// or the DELETE confirming a hold) and S3 `PutObject`s.
pub const RECORDS_RECEIVED_TOTAL: &str = "snowstream_records_received_total";

/// Counter, labels `stream`: HTTP requests whose records were appended.
pub const REQUESTS_TOTAL: &str = "snowstream_requests_total";

/// Counter, labels `stream`: objects accepted through the S3 API (parsed into records or put
/// whole).
pub const S3_OBJECTS_TOTAL: &str = "snowstream_s3_objects_total";

/// Counter, labels `reason` (`bad_request`, `unauthorized`, `not_found`, `too_large`,
/// `unavailable`, `internal`, …): HTTP requests answered with an error.
pub const REJECTED_TOTAL: &str = "snowstream_rejected_total";

/// Counter, labels `stream`: FlowFiles whose content did not parse, landed whole under the
/// stream's dead-letter prefix instead of refusing their request (`on_parse_error =
/// "dead-letter"`).
pub const DEAD_LETTER_FLOWFILES_TOTAL: &str = "snowstream_dead_letter_flowfiles_total";

/// Gauge, no labels: two-phase-commit holds waiting for their confirming DELETE.
pub const HOLDS: &str = "snowstream_holds";

// Spool and landing (crates/landing).

/// Gauge, no labels: bytes in the spool (all streams) not yet landed, against
/// `spool_max_bytes`.
pub const SPOOL_BYTES: &str = "snowstream_spool_bytes";

/// Counter, labels `stream`: requests written to the stream's spool.
pub const SPOOL_APPENDS_TOTAL: &str = "snowstream_spool_appends_total";

/// Counter, labels `stream`: group commits (one fsync each covers every request that arrived
/// meanwhile).
pub const SPOOL_FSYNCS_TOTAL: &str = "snowstream_spool_fsyncs_total";

/// Counter, labels `stream`: corrupt frames found when recovering a spool segment, between
/// intact ones or at the tail of a sealed segment (disk corruption of acknowledged data; the
/// segment is copied to the stream's `quarantine/` folder and its intact frames land).
pub const SPOOL_CORRUPT_FRAMES_TOTAL: &str = "snowstream_spool_corrupt_frames_total";

/// Counter, labels `stream`: damaged segment headers found when recovering a spool segment
/// that held acknowledged records (intact frames follow, or the segment was sealed). The
/// segment is copied to the stream's `quarantine/` folder; its header is rebuilt and its
/// intact frames land, or, with no intact frame left, it is removed. Should stay 0.
pub const SPOOL_CORRUPT_HEADERS_TOTAL: &str = "snowstream_spool_corrupt_headers_total";

/// Histogram (seconds), labels `stream`: from a request's arrival at the spool to its
/// acknowledgement under the stream's ack mode.
pub const ACK_LATENCY_SECONDS: &str = "snowstream_ack_latency_seconds";

/// Counter, labels `stream`: failed puts to the sink (batch files, manifests, pass-through
/// objects), each retry counted.
pub const SINK_ERRORS_TOTAL: &str = "snowstream_sink_errors_total";

/// Counter, labels `stream`: puts that found another object under their key (two instances
/// with one id, a reused sequence number). Nothing was replaced: the file landed under a key
/// of its own, and an ERROR log names both keys. Should stay 0.
pub const SINK_COLLISIONS_TOTAL: &str = "snowstream_sink_collisions_total";

/// Counter, labels `stream`: files landed in the sink (batch files and pass-through objects;
/// manifests are not counted).
pub const FILES_LANDED_TOTAL: &str = "snowstream_files_landed_total";

/// Counter, labels `stream`: records in landed batch files.
pub const RECORDS_LANDED_TOTAL: &str = "snowstream_records_landed_total";

/// Counter, labels `stream`: bytes of landed files (batch files as compressed, pass-through
/// objects as received).
pub const BYTES_LANDED_TOTAL: &str = "snowstream_bytes_landed_total";

// Snowpipe notifier (crates/landing/src/notify).

/// Counter, labels `stream`, `status` (`notified`, `loaded`, `partially_loaded`,
/// `load_failed`, `unmatched_pattern`, `unknown`): landed files by what Snowpipe did with them.
pub const SNOWPIPE_FILES_TOTAL: &str = "snowstream_snowpipe_files_total";

/// Counter, labels `stream`, `operation` (`insertFiles`, `insertReport`,
/// `loadHistoryScan`): failed Snowpipe REST calls.
pub const SNOWPIPE_ERRORS_TOTAL: &str = "snowstream_snowpipe_errors_total";

/// Counter `{listener}` (`http` or `s3`): connections closed at once because the listener
/// already had its maximum open (`--max-connections`).
pub const CONNECTIONS_REFUSED_TOTAL: &str = "snowstream_connections_refused_total";

/// Counter `{front_door}` (`http` or `s3`): requests refused with 503 because the request
/// bodies in memory at once were at `--max-inflight-body-size`.
pub const BODY_BUDGET_REFUSED_TOTAL: &str = "snowstream_body_budget_refused_total";

// Staleness (crates/landing/src/stale.rs, crates/landing/src/status).

/// Gauge (seconds since the Unix epoch), labels `stream`: when the stream's last batch file
/// landed (published from the first landing of the run on).
pub const STREAM_LAST_LANDED_TIMESTAMP_SECONDS: &str =
    "snowstream_stream_last_landed_timestamp_seconds";

/// Gauge (0 or 1), labels `stream`: 1 while nothing has landed for the stream's
/// `--stale-after` (published only for watched streams).
pub const STREAM_STALE: &str = "snowstream_stream_stale";

/// Gauge, no labels: the spool's limit (`--spool-max-bytes`), for fill ratios against
/// [`SPOOL_BYTES`].
pub const SPOOL_MAX_BYTES: &str = "snowstream_spool_max_bytes";

/// Counter, labels `outcome` (`sent`, `failed`, `dropped`): staleness webhook posts
/// (`--alert-webhook`), counted once per alert after its retries.
pub const ALERT_WEBHOOK_TOTAL: &str = "snowstream_alert_webhook_total";

#[cfg(test)]
mod tests {

    /// Every metric name is declared here once: no other source file of the crates that
    /// publish metrics spells one out.
    #[test]
    fn no_metric_name_is_spelled_out_elsewhere() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut offenders = Vec::new();
        for krate in ["landing", "server", "snowstream"] {
            let mut dirs = vec![root.join(krate).join("src")];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs")
                        && !path.ends_with("landing/src/metric_names.rs")
                    {
                        let text = std::fs::read_to_string(&path).unwrap();
                        if text.contains("!(\"snowstream_") {
                            offenders.push(path.display().to_string());
                        }
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "metric names spelled out in {offenders:?}; use landing::metric_names"
        );
    }
}
