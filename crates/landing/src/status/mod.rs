//! The live status of the landing service for the `/ui` page and `GET /api/status`: per
//! stream throughput over the last minutes, ack latency, the open batch, the last files
//! landed, the Snowpipe notifier and staleness ([`StatusSnapshot`], documented in
//! docs/api.md). Fed by one-line hooks in the append path, spool writer and lander.

mod snapshot;
pub(crate) mod stats;

pub use snapshot::{
    LandedFile, Latency, RatePoint, STATUS_VERSION, SpoolStatus, StatusSnapshot, StreamStatus,
};
pub use stats::now_ms;

use crate::service::Landing;

impl Landing {
    /// The live status of every stream, sorted by name.
    pub fn status(&self) -> StatusSnapshot {
        let now = now_ms();
        let mut streams: Vec<StreamStatus> = self
            .streams
            .values()
            .map(|h| {
                let v = h.input.stats.view();
                let since =
                    now.saturating_sub(v.last_landed_ms.unwrap_or(h.input.stats.started_ms()));
                let snowpipe = h.snowpipe.as_ref().map(|s| s.status());
                StreamStatus {
                    name: h.config.name.clone(),
                    records_total: v.records,
                    bytes_total: v.bytes,
                    requests_total: v.requests,
                    rate: v.rate,
                    ack_latency: v.latency,
                    open_batch_age_s: v.open_batch_age_s,
                    batch_max_age_s: h.config.max_age.as_secs_f64(),
                    files_landed: v.files_landed,
                    records_landed: v.records_landed,
                    bytes_landed: v.bytes_landed,
                    last_landed_ms: v.last_landed_ms,
                    since_last_landed_s: since as f64 / 1000.0,
                    stale_after_s: (v.stale_after_ms > 0).then(|| v.stale_after_ms as f64 / 1000.0),
                    stale: v.stale,
                    recent_files: v.recent,
                    snowpipe,
                }
            })
            .collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        StatusSnapshot {
            version: STATUS_VERSION,
            now_ms: now,
            spool: SpoolStatus {
                used_bytes: self.gauge.used(),
                max_bytes: self.gauge.max(),
                full: self.gauge.full(),
            },
            streams,
            warehouse: None,
        }
    }
}
