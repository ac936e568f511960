//! Group commit for the spool writer: the fsync handed to the sync thread, its result, and
//! the acknowledgements and rollbacks that follow (the persist policy in the parent module's
//! doc). A child module of the writer, so it works on the writer's own fields.

use std::io;
use std::sync::mpsc::Receiver;

use super::syncer::PendingSync;
use super::{InFlight, Writer, WriterMsg, spool_err};
use crate::config::AckMode;
use crate::spool::keys::KeyLedger;
use crate::spool::{AckTx, Receipt};

impl Writer {
    /// Makes the requests waiting durable: by an fsync on the sync thread, unless one runs
    /// already (then they wait for the next); without a sync thread, here.
    pub(super) fn kick(&mut self) {
        if self.inflight.is_none() && !self.start_sync() {
            self.commit();
        }
    }

    /// Hands an fsync covering the requests waiting to the sync thread; false when there is
    /// none to start or it could not be started.
    fn start_sync(&mut self) -> bool {
        if self.inflight.is_some() || self.waiting.is_empty() {
            return false;
        }
        let (Some(syncer), Some(active)) = (&self.syncer, &self.active) else {
            return false;
        };
        let info = active.seg.info();
        let upto = (info.records, info.bytes);
        let Ok(file) = active.seg.sync_handle() else {
            return false;
        };
        if syncer.submit(PendingSync::new(file)).is_err() {
            return false;
        }
        self.fsyncs.increment(1);
        self.inflight = Some(InFlight {
            upto,
            keys_len: self.keys.as_ref().map_or(0, KeyLedger::len),
            acks: std::mem::take(&mut self.waiting),
        });
        true
    }

    /// The sync thread's fsync returned: on success the next one starts at once, then the
    /// requests it covered are acknowledged; on failure nothing not yet acknowledged is.
    pub(super) fn synced(&mut self, result: io::Result<()>) {
        let Some(done) = self.inflight.take() else {
            return;
        };
        match result {
            Ok(()) => {
                if let Some(a) = self.active.as_mut() {
                    a.seg.synced(done.upto);
                }
                self.keys_durable = done.keys_len;
                // The disk goes on with the next fsync while these are answered.
                self.start_sync();
                self.acknowledge(done.acks);
                self.kick();
            }
            Err(e) => {
                let err = spool_err("fsync the spool", &e);
                let refused = done.acks.into_iter().chain(self.waiting.drain(..));
                for (ack, _) in refused {
                    let _ = ack.send(Err(err.clone()));
                }
                self.roll_back_refused();
                self.seal();
            }
        }
    }

    /// Waits for the fsync in flight, then makes the rest written durable here: what must
    /// happen before the segment is sealed.
    pub(super) fn settle(&mut self, rx: &Receiver<WriterMsg>) {
        while self.inflight.is_some() {
            match rx.recv() {
                Ok(WriterMsg::Synced(result)) => self.synced(result),
                Ok(other) => self.deferred.push_back(other),
                Err(_) => self.synced(Err(io::Error::other("the spool sync thread stopped"))),
            }
        }
        self.commit();
    }

    fn acknowledge(&mut self, acks: Vec<(AckTx, Receipt)>) {
        for (ack, receipt) in acks {
            match (self.config.ack, self.active.as_mut()) {
                (AckMode::Landed, Some(a)) => a.landed_acks.push((ack, receipt)),
                _ => {
                    let _ = ack.send(Ok(receipt));
                }
            }
        }
    }

    /// Makes written frames durable on this thread and acknowledges who waited for that.
    fn commit(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.waiting);
        let synced = match self.active.as_mut() {
            Some(a) => a.seg.sync(),
            // Sealed (and synced) in the middle of the group.
            None => Ok(()),
        };
        self.fsyncs.increment(1);
        match synced {
            Ok(()) => {
                self.keys_synced();
                self.acknowledge(waiting);
            }
            Err(e) => {
                let err = spool_err("fsync the spool", &e);
                for (ack, _) in waiting {
                    let _ = ack.send(Err(err.clone()));
                }
                self.roll_back_refused();
                self.seal();
            }
        }
    }

    /// After a failed fsync: the requests written since the last good one were refused, so
    /// their frames must not land (the clients' retries would land them twice). Cuts them off
    /// the open segment and gives their sequence numbers and spool bytes back. If even that
    /// fails, the stream refuses new records until a restart recovers the segment.
    fn roll_back_refused(&mut self) {
        self.cut_keys(self.keys_durable);
        let Some(active) = self.active.as_mut() else {
            return;
        };
        match active.seg.rollback() {
            Ok((records, bytes)) => {
                self.next_seq -= records;
                self.gauge.release(bytes);
                tracing::warn!(stream = %self.config.name, records,
                    "fsync failed: the refused records were cut off the spool segment");
            }
            Err(e) => {
                let why = format!(
                    "fsync failed and the refused records could not be cut off the spool segment: {e}; refusing new records until a restart"
                );
                tracing::error!(stream = %self.config.name, "{why}");
                self.broken = Some(why);
            }
        }
    }
}
