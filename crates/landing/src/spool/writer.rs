//! The per-stream spool writer: a dedicated thread that appends requests to the open segment
//! and makes them durable with group commit, pipelined with the fsync.
//!
//! Persist policy: everything that arrived while an fsync ran is written to the segment
//! *while* that fsync still runs (on the stream's sync thread, [`super::syncer`]); as soon as
//! it returns, the next fsync (covering those bytes) is started, and only then are the
//! requests the finished one covered acknowledged. So the disk goes from one fsync straight
//! to the next, and the writes, the framing and the wake-ups of acknowledged requests overlap
//! the fsync instead of sitting between two. One fsync runs at a time and acknowledgements go
//! out strictly in order, each only after an fsync that started after its frame was written
//! returned. When an fsync fails, every request not yet acknowledged (the ones it covered and
//! the ones written since) gets the error, and everything after the last durable offset is
//! cut off the segment. Before a segment is sealed, the fsync in flight is waited for.
//!
//! A request pushed in parts is one append like any other: its run of frames ([`run`]) is
//! written whole into the open segment, acknowledged (or refused and cut off) as one.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::keys::{KeyLedger, KeyedBatch};
use super::segment::SegmentWriter;
use super::{AckTx, BatchWatch, Handoff, Opened, Receipt, Sealed};
use crate::config::{AckMode, StreamConfig};
use crate::error::AppendError;
use crate::gauge::SpoolGauge;
use crate::metric_names::{SPOOL_APPENDS_TOTAL, SPOOL_FSYNCS_TOTAL};
use handle::WriterMsg;
use syncer::Syncer;

mod commit;
mod handle;
mod release;
mod run;
mod syncer;

pub(crate) use handle::{Append, Body, WriterHandle};
pub(crate) use run::{Part, Run};

/// Most bytes gathered into one group commit before it is written and synced.
const GROUP_LIMIT: usize = 64 << 20;
/// How often a stream whose next sequence number could not be recorded tries again.
const SAVE_RETRY: Duration = Duration::from_secs(1);

/// Everything a stream's writer thread starts with.
pub(crate) struct Spawn {
    /// The stream's spool folder.
    pub dir: PathBuf,
    pub config: StreamConfig,
    /// What an earlier run left in `dir` ([`super::open`]): handed over first.
    pub opened: Opened,
    /// Where sealed segments and flush barriers go, in order.
    pub handoff: mpsc::UnboundedSender<Handoff>,
    pub gauge: Arc<SpoolGauge>,
    /// The instance id new segments record (their batches keep it in their keys).
    pub instance: String,
    /// Told when a batch opens and closes.
    pub watch: Option<Arc<dyn BatchWatch>>,
    /// The spool's lock, held by the thread until it exits.
    pub lock: Arc<File>,
}

impl Spawn {
    /// Starts the writer thread (`spool-{stream}`) and returns the way to reach it and its
    /// join handle (the thread ends after [`WriterHandle::close`]).
    pub fn start(self) -> io::Result<(WriterHandle, JoinHandle<()>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let name = format!("spool-{}", self.config.name);
        let lock = self.lock.clone();
        let replies = tx.clone();
        let writer = Writer::new(self);
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let _spool_lock = lock;
            writer.run(rx, replies)
        })?;
        Ok((WriterHandle { tx }, thread))
    }
}

/// The fsync running on the sync thread and the requests waiting for it.
struct InFlight {
    /// Segment records and bytes it covers.
    upto: (u64, u64),
    /// Key-ledger length when it started.
    keys_len: u64,
    acks: Vec<(AckTx, Receipt)>,
}

struct Active {
    seg: SegmentWriter,
    deadline: Instant,
    landed_acks: Vec<(AckTx, Receipt)>,
}

struct Writer {
    dir: PathBuf,
    config: StreamConfig,
    next_seq: u64,
    /// The value in the `next_seq` file (0: none): what a restart would start from.
    saved_next_seq: u64,
    /// Messages for the lander held back until the next sequence number after every sealed
    /// segment among them is recorded: a segment is deleted once it lands, and then only the
    /// file keeps its sequence numbers from being used again. In order; sent by `release`.
    held: Vec<Handoff>,
    /// When to try recording the next sequence number again (while `held` waits for it).
    retry_save: Option<Instant>,
    handoff: mpsc::UnboundedSender<Handoff>,
    gauge: Arc<SpoolGauge>,
    /// The instance id new segments record (their batches keep it in their keys).
    instance: String,
    active: Option<Active>,
    /// The last seal could not record the next sequence number (disk full): new segments
    /// wait until it is recorded, and so do sealed ones (`held`).
    next_seq_unsaved: bool,
    /// The open segment's last write failed part-way.
    torn: bool,
    broken: Option<String>,
    /// The idempotency keys of batches taken (loaded when the thread starts), or why they
    /// could not be read (then keyed appends are refused).
    keys: Result<KeyLedger, String>,
    /// Ledger length as of the last successful segment sync (what a rollback cuts back to).
    keys_durable: u64,
    /// Told when a batch opens and closes.
    watch: Option<Arc<dyn BatchWatch>>,
    /// The stream's append and fsync counters, looked up once.
    appends: metrics::Counter,
    fsyncs: metrics::Counter,
    syncer: Option<Syncer>,
    inflight: Option<InFlight>,
    /// Requests written since the fsync in flight started: they wait for the next one.
    waiting: Vec<(AckTx, Receipt)>,
    /// Messages read while waiting for the fsync in flight, handled next.
    deferred: VecDeque<WriterMsg>,
}

impl Writer {
    fn new(spawn: Spawn) -> Self {
        let Spawn {
            dir,
            config,
            opened,
            handoff,
            gauge,
            instance,
            watch,
            lock: _,
        } = spawn;
        let appends = metrics::counter!(SPOOL_APPENDS_TOTAL, "stream" => config.name.clone());
        let fsyncs = metrics::counter!(SPOOL_FSYNCS_TOTAL, "stream" => config.name.clone());
        let held = opened
            .segments
            .into_iter()
            .map(|info| {
                Handoff::Segment(Sealed {
                    info,
                    acks: Vec::new(),
                })
            })
            .collect();
        Writer {
            dir,
            config,
            next_seq: opened.next_seq,
            saved_next_seq: opened.saved_next_seq,
            held,
            retry_save: None,
            handoff,
            gauge,
            instance,
            active: None,
            next_seq_unsaved: false,
            torn: false,
            broken: None,
            keys: Err("not loaded yet".to_owned()),
            keys_durable: 0,
            watch,
            appends,
            fsyncs,
            syncer: None,
            inflight: None,
            waiting: Vec::new(),
            deferred: VecDeque::new(),
        }
    }

    /// Runs until closed; `replies` is the writer's own channel, for the sync thread's
    /// results.
    fn run(mut self, rx: Receiver<WriterMsg>, replies: std::sync::mpsc::Sender<WriterMsg>) {
        // Before any append: the ledger is checked against the next sequence number recovered.
        self.keys = KeyLedger::load(&self.dir, self.next_seq, now_ms()).map_err(|e| {
            tracing::error!(stream = %self.config.name, error = %e,
                "cannot read the idempotency-key ledger; keyed appends are refused");
            format!("cannot read the idempotency-key ledger: {e}")
        });
        self.keys_durable = self.keys.as_ref().map_or(0, KeyLedger::len);
        // What an earlier run left lands once the sequence numbers after it are recorded.
        let _ = self.release();
        let on_synced = move |r| replies.send(WriterMsg::Synced(r)).is_ok();
        match Syncer::start(&self.config.name, on_synced) {
            Ok(s) => self.syncer = Some(s),
            Err(e) => tracing::warn!(stream = %self.config.name, error = %e,
                "cannot start the spool sync thread; fsyncs run on the writer thread"),
        }
        loop {
            let wake = match (self.active.as_ref().map(|a| a.deadline), self.retry_save) {
                (Some(a), Some(r)) => Some(a.min(r)),
                (a, r) => a.or(r),
            };
            let first = match self.deferred.pop_front() {
                Some(m) => Some(m),
                None => match wake {
                    Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now()))
                    {
                        Ok(m) => Some(m),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    },
                    None => match rx.recv() {
                        Ok(m) => Some(m),
                        Err(_) => break,
                    },
                },
            };
            let mut group = Vec::new();
            let mut bytes = 0usize;
            if let Some(m) = first {
                bytes += msg_len(&m);
                group.push(m);
                while bytes < GROUP_LIMIT && !matches!(group.last(), Some(WriterMsg::Close)) {
                    match self.deferred.pop_front().map_or_else(|| rx.try_recv(), Ok) {
                        Ok(m) => {
                            bytes += msg_len(&m);
                            group.push(m);
                        }
                        Err(_) => break,
                    }
                }
            }
            let closing = matches!(group.last(), Some(WriterMsg::Close));
            self.process(group, &rx);
            if closing {
                break;
            }
            if self
                .active
                .as_ref()
                .is_some_and(|a| Instant::now() >= a.deadline)
            {
                self.settle(&rx);
                self.seal();
            }
            if self.retry_save.is_some_and(|at| Instant::now() >= at) {
                let _ = self.release();
            }
        }
        self.settle(&rx);
        self.seal();
        let held = self
            .held
            .iter()
            .filter(|m| matches!(m, Handoff::Segment(_)))
            .count();
        if held > 0 {
            tracing::error!(stream = %self.config.name, batches = held,
                "stopping with batches that could not land (their next sequence number could not be recorded); they stay in the spool and land on the next start");
        }
        // Stops the sync thread (nothing is in flight any more).
        self.syncer.take();
    }

    fn process(&mut self, group: Vec<WriterMsg>, rx: &Receiver<WriterMsg>) {
        // The result of the fsync in flight, when gathered into this group, is taken first:
        // a segment filled below waits (`settle`) on the channel for that result, and would
        // wait forever for one already taken off it. Taking it first also keeps this group's
        // appends out of a rollback they had no part in.
        let (results, group): (Vec<_>, Vec<_>) = group
            .into_iter()
            .partition(|m| matches!(m, WriterMsg::Synced(_)));
        for msg in results {
            if let WriterMsg::Synced(result) = msg {
                self.synced(result);
            }
        }
        let mut flushes = Vec::new();
        for msg in group {
            match msg {
                WriterMsg::Append(Append {
                    body,
                    records,
                    reserved,
                    received,
                    key,
                    ack,
                }) => match self.write(body, records, key.as_deref()) {
                    Ok(receipt) if receipt.duplicate => {
                        // Taken before: nothing written. Still answered only once durable.
                        self.gauge.release(reserved);
                        self.waiting.push((
                            ack,
                            Receipt {
                                received,
                                ..receipt
                            },
                        ));
                    }
                    Ok(receipt) => {
                        let receipt = Receipt {
                            received,
                            ..receipt
                        };
                        match self.config.ack {
                            AckMode::Received => {
                                let _ = ack.send(Ok(receipt));
                            }
                            // Landed acks wait for the fsync too, then for the file.
                            AckMode::Durable | AckMode::Landed => self.waiting.push((ack, receipt)),
                        }
                    }
                    Err(e) => {
                        self.gauge.release(reserved);
                        let _ = ack.send(Err(e));
                    }
                },
                WriterMsg::Flush { done } => flushes.push(done),
                WriterMsg::Synced(result) => self.synced(result),
                WriterMsg::Close => {}
            }
            if self.torn || self.batch_full() {
                self.settle(rx);
                self.seal();
            }
        }
        self.kick();
        if !flushes.is_empty() {
            self.settle(rx);
            self.seal();
            for done in flushes {
                self.hand_over(Handoff::Barrier(done));
            }
        }
    }

    fn batch_full(&self) -> bool {
        self.active.as_ref().is_some_and(|a| {
            let info = a.seg.info();
            info.bytes >= self.config.max_bytes || info.records >= self.config.max_records
        })
    }

    fn write(
        &mut self,
        body: Body,
        records: u64,
        key: Option<&str>,
    ) -> Result<Receipt, AppendError> {
        if let Some(why) = &self.broken {
            return Err(AppendError::Spool(why.clone()));
        }
        if let Some(key) = key {
            let ledger = self
                .keys
                .as_ref()
                .map_err(|e| AppendError::Spool(e.clone()))?;
            if let Some(b) = ledger.get(key) {
                return Ok(Receipt {
                    first_seq: b.first_seq,
                    records: b.records,
                    received: Instant::now(),
                    duplicate: true,
                });
            }
        }
        if self.active.is_none() {
            if self.next_seq_unsaved {
                self.release()
                    .map_err(|e| spool_err("record the next sequence number", &e))?;
            }
            let opened = chrono::Utc::now().timestamp_millis();
            let seg = SegmentWriter::create(&self.dir, self.next_seq, opened, &self.instance)
                .map_err(|e| spool_err("create a spool segment", &e))?;
            self.gauge.add(seg.info().bytes);
            (self.watch.iter()).for_each(|w| w.batch_open(Some(opened as u64)));
            self.active = Some(Active {
                seg,
                deadline: Instant::now() + self.config.max_age,
                landed_acks: Vec::new(),
            });
        }
        let first_seq = self.next_seq;
        let keys_before = self.keys.as_ref().map_or(0, KeyLedger::len);
        if let (Some(key), Ok(ledger)) = (key, self.keys.as_mut()) {
            let b = KeyedBatch { first_seq, records };
            ledger
                .record(key, b, now_ms())
                .map_err(|e| spool_err("record the idempotency key", &e))?;
        }
        let active = self.active.as_mut().expect("opened above");
        let written = match body {
            Body::One(payload) => (active.seg)
                .append(&records::Batch::stamp(payload, first_seq), records)
                .map_err(|e| spool_err("write to the spool", &e)),
            // A run is written whole into this segment (a full batch seals between appends).
            Body::Run(run) => run::write(&mut active.seg, run, first_seq, &mut Vec::new())
                .map_err(run::RunError::into_append_error),
        };
        if let Err(e) = written {
            // The part written was cut off; if it could not be, the frame is torn: close this
            // segment (readers stop at a torn frame) and start the next request in a fresh one.
            self.torn = active.seg.is_torn();
            self.cut_keys(keys_before);
            return Err(e);
        }
        self.next_seq += records;
        self.appends.increment(1);
        Ok(Receipt {
            first_seq,
            records,
            received: Instant::now(),
            duplicate: false,
        })
    }

    /// Cuts the key ledger back to `len` (its batches were not kept); if that fails, the
    /// stream refuses new records until a restart (a kept line would hide a lost batch).
    fn cut_keys(&mut self, len: u64) {
        let Ok(ledger) = self.keys.as_mut() else {
            return;
        };
        if ledger.len() == len {
            return;
        }
        if let Err(e) = ledger.truncate(len) {
            let why = format!(
                "the idempotency keys of refused records could not be cut off the ledger: {e}; refusing new records until a restart"
            );
            tracing::error!(stream = %self.config.name, "{why}");
            self.broken = Some(why);
        }
    }

    fn keys_synced(&mut self) {
        self.keys_durable = self.keys.as_ref().map_or(0, KeyLedger::len);
    }

    /// Closes the open segment and hands it over.
    fn seal(&mut self) {
        self.torn = false;
        let Some(mut active) = self.active.take() else {
            return;
        };
        (self.watch.iter()).for_each(|w| w.batch_open(None));
        match active.seg.sync() {
            Ok(()) => self.keys_synced(),
            Err(e) => {
                tracing::error!(stream = %self.config.name, error = %e, "fsync of a spool segment failed while closing it")
            }
        }
        let acks = std::mem::take(&mut active.landed_acks);
        let info = active.seg.into_info();
        if info.records == 0 {
            // Everything in it was rolled back: nothing to land, and no empty file may land.
            if let Err(e) = std::fs::remove_file(&info.path) {
                tracing::warn!(stream = %self.config.name, path = %info.path.display(), error = %e,
                    "could not remove an empty spool segment; the next start skips it");
            }
            self.gauge.release(info.bytes);
            return;
        }
        self.hand_over(Handoff::Segment(Sealed { info, acks }));
    }
}

fn msg_len(m: &WriterMsg) -> usize {
    match m {
        WriterMsg::Append(a) => usize::try_from(a.body.len()).unwrap_or(usize::MAX),
        WriterMsg::Flush { .. } | WriterMsg::Synced(_) | WriterMsg::Close => 0,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn spool_err(what: &str, e: &io::Error) -> AppendError {
    AppendError::from_io(what, e)
}
