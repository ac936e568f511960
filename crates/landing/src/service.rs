//! The [`Landing`] service once started: appends go to a stream's spool writer, `flush` and
//! `shutdown` drain writers and landers, and a few read-only views report on the spool and
//! the Snowpipe notifiers. Starting is in `startup.rs`, pass-through puts in `passthrough.rs`,
//! appends in parts in `parts.rs`.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::config::StreamConfig;
use crate::error::AppendError;
use crate::gauge::SpoolGauge;
use crate::metric_names::ACK_LATENCY_SECONDS;
use crate::notify;
use crate::sink::Sink;
use crate::spool::{Append, Body, Receipt, WriterHandle};
use crate::status::stats::StreamStats;
use records::Batch;

/// Per-frame overhead in the spool (length + checksum).
pub(crate) const FRAME_OVERHEAD: u64 = 8;

/// One configured stream: its spool writer thread, its lander task and its notifier.
pub(crate) struct StreamHandle {
    pub config: StreamConfig,
    /// The way appends go in.
    pub input: StreamInput,
    pub writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub lander: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pub snowpipe: Option<notify::Started>,
}

/// What appending to one stream takes: its writer's handle, the spool gauge and what an
/// acknowledged append updates. Cheap to clone: a [`PartsAppend`](crate::PartsAppend) keeps one.
#[derive(Clone)]
pub(crate) struct StreamInput {
    /// `None` once shutting down.
    pub tx: Arc<RwLock<Option<WriterHandle>>>,
    pub gauge: Arc<SpoolGauge>,
    /// The stream's spool folder.
    pub dir: PathBuf,
    /// Live statistics for the status page.
    pub stats: Arc<StreamStats>,
    /// The stream's ack-latency histogram, looked up once (not a labelled key per request).
    pub ack_latency: metrics::Histogram,
}

impl StreamInput {
    /// Whether `shutdown` was called.
    pub fn closed(&self) -> bool {
        self.tx.read().expect("lock").is_none()
    }

    /// Sends an append of `records` records to the writer and waits for its acknowledgement
    /// (per the stream's ack mode). Its `reserved` spool bytes are reserved in the gauge
    /// already: from here on they are the writer's to keep or give back (or given back here,
    /// when the writer is gone).
    pub async fn send(
        &self,
        body: Body,
        records: u64,
        reserved: u64,
        key: Option<String>,
    ) -> Result<Receipt, AppendError> {
        let bytes = body.len();
        let (ack, rx) = oneshot::channel();
        let sent = match self.tx.read().expect("lock").as_ref() {
            Some(tx) => tx.append(Append {
                body,
                records,
                reserved,
                received: Instant::now(),
                key,
                ack,
            }),
            None => false,
        };
        if !sent {
            self.gauge.release(reserved);
            return Err(AppendError::ShuttingDown);
        }
        let receipt = rx.await.map_err(|_| AppendError::ShuttingDown)??;
        if receipt.duplicate {
            return Ok(receipt);
        }
        let waited = receipt.received.elapsed();
        self.stats.acked(records, bytes, waited);
        self.ack_latency.record(waited.as_secs_f64());
        Ok(receipt)
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.close_writer();
    }
}

impl StreamHandle {
    /// Stops taking appends and tells the writer to stop after those sent before.
    pub fn close_writer(&self) {
        let tx = match self.input.tx.write() {
            Ok(mut tx) => tx.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(tx) = tx {
            tx.close();
        }
    }

    /// The ack-latency histogram of stream `name` in the process's recorder.
    pub fn ack_latency_histogram(name: &str) -> metrics::Histogram {
        metrics::histogram!(ACK_LATENCY_SECONDS, "stream" => name.to_owned())
    }

    /// Whether `shutdown` was called.
    pub fn closed(&self) -> bool {
        self.input.closed()
    }
}

/// The landing service: spool writers and landers for every configured stream.
pub struct Landing {
    pub(crate) streams: HashMap<String, StreamHandle>,
    pub(crate) gauge: Arc<SpoolGauge>,
    pub(crate) sink: Arc<dyn Sink>,
    /// Held by the writer threads too: the spool stays locked until the last one exits.
    pub(crate) _lock: Arc<File>,
}

impl Landing {
    pub(crate) fn stream(&self, stream: &str) -> Result<&StreamHandle, AppendError> {
        self.streams
            .get(stream)
            .ok_or_else(|| AppendError::UnknownStream(stream.to_owned()))
    }

    /// Appends a request's records; resolves once they are acknowledged per the stream's ack
    /// mode. Either all records of the batch are accepted or none.
    pub async fn append(&self, stream: &str, batch: Batch) -> Result<Receipt, AppendError> {
        self.append_keyed(stream, None, batch).await
    }

    /// Appends a batch at most once per `key` (an idempotency key such as a multipart upload
    /// id: no whitespace, at most 1 KiB): when the stream already took a batch under `key`
    /// (in the spool or already landed, across restarts, for 30 days) nothing is appended and
    /// the receipt says [`Receipt::is_duplicate`]. Either way it resolves once the batch is
    /// acknowledged per the stream's ack mode.
    pub async fn append_once(
        &self,
        stream: &str,
        key: &str,
        batch: Batch,
    ) -> Result<Receipt, AppendError> {
        if !crate::spool::keys::valid_key(key) {
            return Err(AppendError::InvalidKey(format!(
                "idempotency key {key:?} is empty, over 1 KiB or has whitespace"
            )));
        }
        self.append_keyed(stream, Some(key.to_owned()), batch).await
    }

    async fn append_keyed(
        &self,
        stream: &str,
        key: Option<String>,
        batch: Batch,
    ) -> Result<Receipt, AppendError> {
        let handle = self.stream(stream)?;
        let records = batch.records();
        if records == 0 {
            // Nothing to make durable, and no empty file should ever land.
            return Ok(Receipt::empty());
        }
        let payload = batch.into_bytes();
        let reserved = payload.len() as u64 + FRAME_OVERHEAD;
        self.gauge.try_reserve(reserved)?;
        (handle.input)
            .send(Body::One(payload), records, reserved, key)
            .await
    }

    /// Configured stream names.
    pub fn streams(&self) -> impl Iterator<Item = &StreamConfig> {
        self.streams.values().map(|h| &h.config)
    }

    /// Whether a stream of that name is configured.
    pub fn has_stream(&self, name: &str) -> bool {
        self.streams.contains_key(name)
    }

    /// What the stream's Snowpipe notifier did so far, with how many landed files still wait
    /// for a successful `insertFiles` (`None` when the stream has no notifier).
    pub fn snowpipe_status(&self, stream: &str) -> Option<notify::SnowpipeStatus> {
        Some(self.streams.get(stream)?.snowpipe.as_ref()?.status())
    }

    /// Bytes waiting in the spool.
    pub fn spool_bytes(&self) -> u64 {
        self.gauge.used()
    }

    /// Whether the spool is at its limit (new appends are refused until files land).
    pub fn spool_full(&self) -> bool {
        self.gauge.full()
    }

    /// Closes every open batch now and waits until everything appended before has landed.
    pub async fn flush(&self) {
        let mut waits = Vec::new();
        for h in self.streams.values() {
            let (done, rx) = oneshot::channel();
            if let Some(tx) = h.input.tx.read().expect("lock").as_ref()
                && tx.flush(done)
            {
                waits.push(rx);
            }
        }
        for rx in waits {
            let _ = rx.await;
        }
    }

    /// Stops accepting, closes open batches, and waits until everything in the spool has
    /// landed. Appends after this fail with [`AppendError::ShuttingDown`]. Returns the
    /// streams whose writer or lander had stopped on a panic: what they hold stays in the
    /// spool and lands on the next start, and "landed" must not be claimed for them.
    pub async fn shutdown(&self) -> Vec<String> {
        for h in self.streams.values() {
            h.close_writer();
        }
        let mut failed = Vec::new();
        for (name, h) in &self.streams {
            let writer = h.writer.lock().expect("lock").take();
            let mut ok = true;
            if let Some(w) = writer {
                ok &= matches!(
                    tokio::task::spawn_blocking(move || w.join()).await,
                    Ok(Ok(()))
                );
            }
            let lander = h.lander.lock().expect("lock").take();
            if let Some(l) = lander {
                ok &= l.await.is_ok();
            }
            if !ok {
                tracing::error!(stream = %name,
                    "the stream's spool writer or lander had stopped on a panic; what it holds stays in the spool and lands on the next start");
                failed.push(name.clone());
            }
            // Keys not yet notified stay in the queue file and are sent on the next start.
            if let Some(s) = &h.snowpipe {
                s.task.abort();
            }
        }
        failed.sort();
        failed
    }
}
