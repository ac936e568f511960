//! The per-stream lander: encodes each sealed segment into a compressed file streamed into a
//! staged put of the sink (never held whole, never on the spool disk, which may be full),
//! commits it and puts its manifest (retrying with backoff for as long as the sink is down,
//! while the spool holds the data), then deletes the segment and acknowledges `ack = landed`
//! requests.
//!
//! The lander consumes what the spool hands over ([`Handoff`]); the spool knows nothing of it.

mod encode_job;
mod put;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use records::landed::LandedKey;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::StreamConfig;
use crate::error::AppendError;
use crate::gauge::SpoolGauge;
use crate::metric_names::{
    BYTES_LANDED_TOTAL, FILES_LANDED_TOTAL, RECORDS_LANDED_TOTAL, SINK_ERRORS_TOTAL,
};
use crate::retry::Backoff;
use crate::sink::Sink;
use crate::spool::segment::{SegmentInfo, sync_dir};
use crate::spool::{Handoff, Sealed};
use encode_job::{EncodeJob, Encoded};

/// Suffix of the file earlier versions encoded a segment into before the put (batches are
/// now streamed into the sink, so a full spool disk can still drain).
const ENCODED_TEMP_SUFFIX: &str = ".landing.tmp";

/// Whether a file of the stream folder is what an earlier version's lander left there (an
/// encoded temp file), to remove when the spool is opened ([`crate::spool::open`]).
pub(crate) fn is_leftover(name: &str) -> bool {
    name.ends_with(ENCODED_TEMP_SUFFIX)
}

/// Lands one stream's sealed segments, one at a time, in order.
pub(crate) struct Lander {
    pub dir: PathBuf,
    pub config: StreamConfig,
    pub instance: String,
    pub sink: Arc<dyn Sink>,
    pub gauge: Arc<SpoolGauge>,
    /// Queues landed keys for the Snowpipe notifier (before the segment is deleted).
    pub notify: Option<crate::notify::Hook>,
    /// Live statistics for the status page.
    pub stats: Arc<crate::status::stats::StreamStats>,
}

impl Lander {
    /// Lands what arrives until the writer hangs up.
    ///
    /// Two stages joined in this task: the first starts encoding each segment as it
    /// arrives (on the blocking pool, up to [`Lander::encode_ahead`] segments between the
    /// start of their encode and the end of their landing), the second lands them one at a
    /// time in arrival order. So the next segments compress while one is put to the sink,
    /// and keys, manifests, landing order, deletes and acks are exactly as with one serial
    /// loop.
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Handoff>) {
        let slots = Arc::new(Semaphore::new(self.encode_ahead()));
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Ready>();
        let this = &self;
        let encode_stage = async move {
            while let Some(msg) = rx.recv().await {
                let ready = match msg {
                    Handoff::Barrier(done) => Ready::Barrier(done),
                    Handoff::Segment(sealed) => {
                        let slot = slots.clone().acquire_owned().await.expect("never closed");
                        let job = this.encode_job(&sealed.info);
                        Ready::Segment(Box::new(Pending {
                            sealed,
                            encoded: tokio::spawn(job.clone().run()),
                            job,
                            _slot: slot,
                        }))
                    }
                };
                if ready_tx.send(ready).is_err() {
                    break;
                }
            }
        };
        let land_stage = async {
            while let Some(ready) = ready_rx.recv().await {
                match ready {
                    Ready::Barrier(done) => {
                        let _ = done.send(());
                    }
                    Ready::Segment(pending) => {
                        let Pending {
                            sealed,
                            job,
                            encoded,
                            _slot,
                        } = *pending;
                        let encoded = match encoded.await {
                            Ok(r) => r,
                            // The encode task died (panic or shutdown): encode here instead.
                            Err(_) => job.clone().run().await,
                        };
                        self.land(sealed, job, encoded).await;
                    }
                }
            }
        };
        tokio::join!(encode_stage, land_stage);
    }

    /// How many segments may be between the start of their encode and the end of their
    /// landing (`encode_concurrency`; by default one per core plus the one being put), each
    /// holding its staged file (a temp file, or an open multipart upload and at most one part
    /// in memory) until it is committed.
    fn encode_ahead(&self) -> usize {
        match self.config.encode_concurrency {
            0 => {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                (cores + 1).min(MAX_AUTO_ENCODE_AHEAD)
            }
            n => n,
        }
    }

    /// What encoding `info` takes, its landed key included.
    fn encode_job(&self, info: &SegmentInfo) -> EncodeJob {
        // The instance that cut the batch, not this run's: a re-land after a crash (or with a
        // new host name) puts the file under the same key, so it never lands under two.
        let instance = info
            .instance
            .clone()
            .unwrap_or_else(|| self.instance.clone());
        let key = LandedKey::new(
            &self.config.prefix,
            &self.config.name,
            &instance,
            info.opened_at_ms,
            info.first_seq,
            self.config.compression.codec(),
        )
        .to_string();
        EncodeJob {
            info: info.clone(),
            key,
            stream: self.config.name.clone(),
            instance,
            compression: self.config.compression,
            envelope: self.config.envelope,
            sink: self.sink.clone(),
        }
    }

    async fn land(&self, sealed: Sealed, mut job: EncodeJob, encoded: io::Result<Encoded>) {
        let info = sealed.info;
        let stream = self.config.name.clone();
        let mut encoded = match encoded {
            Ok(encoded) => Some(encoded),
            Err(e) => return self.refuse(&info, sealed.acks, &e),
        };
        let mut attempt = 0;
        let mut digits = 8;
        let manifest = loop {
            let staged = match encoded.take() {
                Some(staged) => staged,
                // Committing takes the staged file: another attempt encodes the batch again.
                None => match job.clone().run().await {
                    Ok(staged) => staged,
                    Err(e) => return self.refuse(&info, sealed.acks, &e),
                },
            };
            match put::put_batch(&*self.sink, &mut job, staged, &mut digits).await {
                Ok(put::Step::Landed(manifest)) => break manifest,
                Ok(put::Step::Again) => {}
                Err(e) => {
                    metrics::counter!(SINK_ERRORS_TOTAL, "stream" => stream.clone()).increment(1);
                    tracing::warn!(%stream, key = %job.key, sink = %self.sink.describe(), error = %e, attempt,
                        "landing failed; the batch stays in the spool and will be retried");
                    tokio::time::sleep(Backoff::LANDER.delay(attempt)).await;
                    attempt += 1;
                }
            }
        };
        let key = manifest.key.clone();
        // Failpoint `lander-landed`: `panic` stops this lander right after the put, as a crash
        // does before the segment is deleted (a restart lands it again).
        fail::fail_point!("lander-landed");
        if let Some(hook) = &self.notify {
            hook.landed(&stream, &key).await;
        }
        if let Err(e) = std::fs::remove_file(&info.path).and_then(|()| sync_dir(&self.dir)) {
            tracing::error!(%stream, segment = %info.path.display(), error = %e,
                "landed but could not delete the spool segment; it will be landed again under the same key on restart");
        }
        self.gauge.release(info.bytes);
        metrics::counter!(FILES_LANDED_TOTAL, "stream" => stream.clone()).increment(1);
        metrics::counter!(RECORDS_LANDED_TOTAL, "stream" => stream.clone())
            .increment(manifest.records);
        metrics::counter!(BYTES_LANDED_TOTAL, "stream" => stream.clone()).increment(manifest.bytes);
        tracing::info!(%stream, %key, records = manifest.records, bytes = manifest.bytes, "landed");
        self.stats.landed(&key, manifest.records, manifest.bytes);
        for (ack, receipt) in sealed.acks {
            let _ = ack.send(Ok(receipt));
        }
    }

    /// A segment that cannot be encoded (corrupt): moved aside, its acks failed.
    fn refuse(
        &self,
        info: &SegmentInfo,
        acks: Vec<(crate::spool::AckTx, crate::spool::Receipt)>,
        e: &io::Error,
    ) {
        self.quarantine(info, e);
        for (ack, _) in acks {
            let _ = ack.send(Err(AppendError::Spool(e.to_string())));
        }
    }

    fn quarantine(&self, info: &SegmentInfo, e: &io::Error) {
        let path = &info.path;
        let bad = path.with_extension("corrupt");
        tracing::error!(stream = %self.config.name, segment = %path.display(), moved_to = %bad.display(), error = %e,
            "spool segment is corrupt and cannot be landed; moved aside for inspection");
        let _ = std::fs::rename(path, &bad);
        self.gauge.release(info.bytes);
    }
}

/// Most segments between the start of their encode and the end of their landing when
/// `encode_concurrency` is left to the core count.
const MAX_AUTO_ENCODE_AHEAD: usize = 4;

/// What the encode stage hands the landing stage, in arrival order.
enum Ready {
    Segment(Box<Pending>),
    Barrier(oneshot::Sender<()>),
}

/// A segment whose encode has started.
struct Pending {
    sealed: Sealed,
    job: EncodeJob,
    encoded: JoinHandle<io::Result<Encoded>>,
    /// Held until the segment has landed.
    _slot: OwnedSemaphorePermit,
}
