//! Landing: turns acknowledged records into Snowpipe-sized files.
//!
//! Records are appended to a per-stream spool with group commit (one fsync covers every
//! request that arrived meanwhile), cut into batches by size, count or age, encoded as
//! compressed NDJSON with ingestion metadata, and put to a sink (local folder or S3)
//! under unique, immutable keys. Nothing acknowledged is lost across restarts: on start,
//! every segment left in the spool is landed under the key it would have had.

mod batch;
mod config;
mod encode;
mod lander;
pub mod notify;
pub mod sink;
mod spool;

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

pub use batch::Batch;
pub use config::{AckMode, Compression, LandingConfig, StreamConfig};

use spool::segment;
use spool::writer::{self, LanderMsg, Sealed, Writer, WriterMsg};

/// Why a request's records were not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("no stream named {0:?} is configured")]
    UnknownStream(String),
    #[error("spool is full ({used} of {max} bytes waiting to land); retry later")]
    SpoolFull { used: u64, max: u64 },
    #[error("snowstream is shutting down")]
    ShuttingDown,
    #[error("spool error: {0}")]
    Spool(String),
    /// A pass-through object's key cannot be used as a key in the sink.
    #[error("{0}")]
    InvalidKey(String),
    /// A pass-through object could not be put to the sink (after retrying when `retryable`).
    #[error("could not land the object: {message}")]
    Sink { message: String, retryable: bool },
}

/// Errors starting the landing service.
#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("spool directory {path}: {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What an accepted append got.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    /// Sequence number of the request's first record within its stream.
    pub first_seq: u64,
    pub records: u64,
    pub(crate) received: Instant,
}

/// Bytes the spool holds (segments not yet landed), against its limit.
pub(crate) struct SpoolGauge {
    used: AtomicU64,
    max: u64,
}

impl SpoolGauge {
    fn try_reserve(&self, n: u64) -> Result<(), AppendError> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            if cur > 0 && cur + n > self.max {
                return Err(AppendError::SpoolFull {
                    used: cur,
                    max: self.max,
                });
            }
            match self
                .used
                .compare_exchange_weak(cur, cur + n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.publish(cur + n);
                    return Ok(());
                }
                Err(now) => cur = now,
            }
        }
    }
    pub(crate) fn add(&self, n: u64) {
        let v = self.used.fetch_add(n, Ordering::AcqRel) + n;
        self.publish(v);
    }
    pub(crate) fn release(&self, n: u64) {
        let prev = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            })
            .unwrap_or(0);
        self.publish(prev.saturating_sub(n));
    }
    fn publish(&self, v: u64) {
        metrics::gauge!("snowstream_spool_bytes").set(v as f64);
    }
}

struct StreamHandle {
    config: StreamConfig,
    tx: RwLock<Option<std::sync::mpsc::Sender<WriterMsg>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    lander: Mutex<Option<tokio::task::JoinHandle<()>>>,
    snowpipe: Option<notify::Started>,
}

/// Attempts of a pass-through put before a retryable sink error is given back (about 1.4 s
/// of backoff in all), so the client's own retry takes over instead of a hanging request.
const PUT_WHOLE_ATTEMPTS: u32 = 4;

/// The landing service: spool writers and landers for every configured stream.
pub struct Landing {
    streams: HashMap<String, StreamHandle>,
    gauge: Arc<SpoolGauge>,
    sink: Arc<dyn sink::Sink>,
    /// Held by the writer threads too: the spool stays locked until the last one exits.
    _lock: Arc<File>,
}

/// Per-frame overhead in the spool (length + checksum).
const FRAME_OVERHEAD: u64 = 8;

impl Landing {
    /// Opens the spool, lands whatever an earlier run left in it, and starts accepting.
    /// Must be called inside a tokio runtime.
    pub fn start(
        config: LandingConfig,
        sink: Arc<dyn sink::Sink>,
    ) -> Result<Landing, LandingError> {
        if !config::valid_name(&config.instance) {
            return Err(LandingError::Config(format!(
                "instance id {:?} must be 1-128 of [A-Za-z0-9._-], not starting with '.'",
                config.instance
            )));
        }
        if config.streams.is_empty() {
            return Err(LandingError::Config("no streams configured".into()));
        }
        let spool_err = |path: &Path, source| LandingError::Spool {
            path: path.display().to_string(),
            source,
        };
        fs::create_dir_all(&config.spool_dir).map_err(|e| spool_err(&config.spool_dir, e))?;
        let lock_path = config.spool_dir.join(".lock");
        let lock = Arc::new(File::create(&lock_path).map_err(|e| spool_err(&lock_path, e))?);
        lock.try_lock().map_err(|_| {
            LandingError::Config(format!(
                "spool directory {} is in use by another snowstream process (each instance needs its own spool)",
                config.spool_dir.display()
            ))
        })?;
        let gauge = Arc::new(SpoolGauge {
            used: AtomicU64::new(0),
            max: config.spool_max_bytes,
        });
        let mut streams = HashMap::new();
        for sc in &config.streams {
            if !config::valid_name(&sc.name) {
                return Err(LandingError::Config(format!(
                    "stream name {:?} must be 1-128 of [A-Za-z0-9._-], not starting with '.'",
                    sc.name
                )));
            }
            if streams.contains_key(&sc.name) {
                return Err(LandingError::Config(format!(
                    "stream {:?} configured twice",
                    sc.name
                )));
            }
            // A batch must fit in the spool with room to spare, or a full spool could only
            // drain when the batch ages out.
            let mut sc = sc.clone();
            let cap = (config.spool_max_bytes / 2).max(1);
            if sc.max_bytes > cap {
                tracing::info!(stream = %sc.name, batch_max_bytes = sc.max_bytes, cap,
                    "batch size capped at half the spool limit");
                sc.max_bytes = cap;
            }
            let sc = &sc;
            let dir = config.spool_dir.join(&sc.name);
            fs::create_dir_all(&dir).map_err(|e| spool_err(&dir, e))?;
            let (recovered, next_seq) = recover_stream(&dir).map_err(|e| spool_err(&dir, e))?;
            let (lander_tx, lander_rx) = mpsc::unbounded_channel();
            for info in recovered {
                tracing::info!(stream = %sc.name, segment = %info.path.display(), records = info.records,
                    "landing a batch left in the spool by an earlier run");
                gauge.add(info.bytes);
                let _ = lander_tx.send(LanderMsg::Segment(Sealed {
                    info,
                    acks: Vec::new(),
                }));
            }
            let snowpipe = sc
                .snowpipe
                .as_ref()
                .map(|c| notify::start(&sc.name, &dir, c))
                .transpose()
                .map_err(|e| LandingError::Config(e.to_string()))?;
            let lander = lander::Lander {
                notify: snowpipe.as_ref().map(|s| s.hook.clone()),
                dir: dir.clone(),
                config: sc.clone(),
                instance: config.instance.clone(),
                sink: sink.clone(),
                gauge: gauge.clone(),
            };
            let lander = tokio::spawn(lander.run(lander_rx));
            let (tx, rx) = std::sync::mpsc::channel();
            let w = Writer::new(dir, sc.clone(), next_seq, lander_tx, gauge.clone());
            let writer = std::thread::Builder::new()
                .name(format!("spool-{}", sc.name))
                .spawn({
                    let lock = lock.clone();
                    move || {
                        let _spool_lock = lock;
                        w.run(rx)
                    }
                })
                .map_err(|e| spool_err(&config.spool_dir, e))?;
            streams.insert(
                sc.name.clone(),
                StreamHandle {
                    config: sc.clone(),
                    tx: RwLock::new(Some(tx)),
                    writer: Mutex::new(Some(writer)),
                    lander: Mutex::new(Some(lander)),
                    snowpipe,
                },
            );
        }
        Ok(Landing {
            streams,
            gauge,
            sink,
            _lock: lock,
        })
    }

    /// Appends a request's records; resolves once they are acknowledged per the stream's ack
    /// mode. Either all records of the batch are accepted or none.
    pub async fn append(&self, stream: &str, batch: Batch) -> Result<Receipt, AppendError> {
        let handle = self
            .streams
            .get(stream)
            .ok_or_else(|| AppendError::UnknownStream(stream.to_owned()))?;
        let records = batch.records();
        if records == 0 {
            // Nothing to make durable, and no empty file should ever land.
            return Ok(Receipt {
                first_seq: 0,
                records: 0,
                received: Instant::now(),
            });
        }
        let payload = batch.into_bytes();
        let reserved = payload.len() as u64 + FRAME_OVERHEAD;
        self.gauge.try_reserve(reserved)?;
        let (ack, rx) = oneshot::channel();
        let sent = {
            let tx = handle.tx.read().expect("lock");
            match tx.as_ref() {
                Some(tx) => tx
                    .send(WriterMsg::Append {
                        payload,
                        records,
                        reserved,
                        received: Instant::now(),
                        ack,
                    })
                    .is_ok(),
                None => false,
            }
        };
        if !sent {
            self.gauge.release(reserved);
            return Err(AppendError::ShuttingDown);
        }
        let receipt = rx.await.map_err(|_| AppendError::ShuttingDown)??;
        metrics::histogram!("snowstream_ack_latency_seconds", "stream" => stream.to_owned())
            .record(receipt.received.elapsed().as_secs_f64());
        Ok(receipt)
    }

    /// Pass-through: puts `body` unchanged to the sink under `{prefix}/{stream}/{key}` (the
    /// stream's prefix, if any) and resolves with that key once the object is in the sink,
    /// bypassing the spool. A retryable sink error is retried a few times with backoff, then
    /// returned as [`AppendError::Sink`] with `retryable: true`. With a Snowpipe notifier on
    /// the stream, the key is queued for `insertFiles` like a landed batch file.
    pub async fn put_whole(
        &self,
        stream: &str,
        key: &str,
        body: bytes::Bytes,
    ) -> Result<String, AppendError> {
        let handle = self
            .streams
            .get(stream)
            .ok_or_else(|| AppendError::UnknownStream(stream.to_owned()))?;
        if handle.tx.read().expect("lock").is_none() {
            return Err(AppendError::ShuttingDown);
        }
        let landed = match handle.config.prefix.as_str() {
            "" => format!("{stream}/{key}"),
            p => format!("{p}/{stream}/{key}"),
        };
        sink::validate_key(&landed).map_err(|e| {
            AppendError::InvalidKey(format!(
                "object key {key:?} cannot be landed as is (pass-through): {e}"
            ))
        })?;
        let bytes = body.len() as u64;
        let mut attempt = 0;
        loop {
            match self.sink.put_bytes(&landed, body.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    metrics::counter!("snowstream_sink_errors_total", "stream" => stream.to_owned())
                        .increment(1);
                    let retryable = e.is_retryable();
                    attempt += 1;
                    if !retryable || attempt >= PUT_WHOLE_ATTEMPTS {
                        tracing::warn!(%stream, key = %landed, sink = %self.sink.describe(), error = %e,
                            attempt, "pass-through object not landed");
                        return Err(AppendError::Sink {
                            message: e.to_string(),
                            retryable,
                        });
                    }
                    let wait = std::time::Duration::from_millis(100 << attempt);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        if let Some(s) = &handle.snowpipe {
            s.hook.landed(stream, &landed).await;
        }
        metrics::counter!("snowstream_files_landed_total", "stream" => stream.to_owned())
            .increment(1);
        metrics::counter!("snowstream_bytes_landed_total", "stream" => stream.to_owned())
            .increment(bytes);
        tracing::debug!(%stream, key = %landed, bytes, "pass-through object landed");
        Ok(landed)
    }

    /// Configured stream names.
    pub fn streams(&self) -> impl Iterator<Item = &StreamConfig> {
        self.streams.values().map(|h| &h.config)
    }

    pub fn has_stream(&self, name: &str) -> bool {
        self.streams.contains_key(name)
    }

    /// What the stream's Snowpipe notifier did so far, and how many landed files still wait
    /// for a successful `insertFiles` (`None` when the stream has no notifier).
    pub fn snowpipe_status(&self, stream: &str) -> Option<(notify::SnowpipeStatus, usize)> {
        let s = self.streams.get(stream)?.snowpipe.as_ref()?;
        Some((s.status.lock().expect("lock").clone(), s.hook.queue.len()))
    }

    /// Bytes waiting in the spool.
    pub fn spool_bytes(&self) -> u64 {
        self.gauge.used.load(Ordering::Acquire)
    }

    /// Whether the spool is at its limit (new appends are refused until files land).
    pub fn spool_full(&self) -> bool {
        self.gauge.used.load(Ordering::Acquire) >= self.gauge.max
    }

    /// Closes every open batch now and waits until everything appended before has landed.
    pub async fn flush(&self) {
        let mut waits = Vec::new();
        for h in self.streams.values() {
            let (done, rx) = oneshot::channel();
            if let Some(tx) = h.tx.read().expect("lock").as_ref()
                && tx.send(WriterMsg::Flush { done }).is_ok()
            {
                waits.push(rx);
            }
        }
        for rx in waits {
            let _ = rx.await;
        }
    }

    /// Stops accepting, closes open batches, and waits until everything in the spool has
    /// landed. Appends after this fail with [`AppendError::ShuttingDown`].
    pub async fn shutdown(&self) {
        for h in self.streams.values() {
            h.tx.write().expect("lock").take();
        }
        for h in self.streams.values() {
            let writer = h.writer.lock().expect("lock").take();
            if let Some(w) = writer {
                let _ = tokio::task::spawn_blocking(move || w.join()).await;
            }
            let lander = h.lander.lock().expect("lock").take();
            if let Some(l) = lander {
                let _ = l.await;
            }
            // Keys not yet notified stay in the queue file and are sent on the next start.
            if let Some(s) = &h.snowpipe {
                s.task.abort();
            }
        }
    }
}

/// Finds the segments an earlier run left and the next sequence number to use.
fn recover_stream(dir: &Path) -> std::io::Result<(Vec<segment::SegmentInfo>, u64)> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".landing.tmp") || name == "next_seq.tmp" {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        } else if name.ends_with(".seg") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut next_seq = writer::read_state(dir)?.unwrap_or(1).max(1);
    let mut infos = Vec::new();
    for p in paths {
        if let Some(info) = segment::recover(&p)? {
            next_seq = next_seq.max(info.last_seq() + 1);
            infos.push(info);
        }
    }
    Ok((infos, next_seq))
}
