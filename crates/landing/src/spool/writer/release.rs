//! Handing sealed segments over only once the sequence numbers after them are
//! recorded (the `next_seq` file), so that no sequence number, and so no landed key, is ever
//! used twice: a segment is deleted once it lands, and then only the file keeps its numbers
//! from a restart. A child module of the writer, so it works on the writer's own fields.

use std::io;
use std::time::Instant;

use tokio::sync::mpsc;

use super::{SAVE_RETRY, Writer};
use crate::spool::{Handoff, next_seq};

impl Writer {
    /// Hands `msg` over after whatever is held (in order).
    pub(super) fn hand_over(&mut self, msg: Handoff) {
        self.held.push(msg);
        let _ = self.release();
    }

    /// Records the next sequence number if a held segment needs it, then hands every held
    /// message over. If it cannot be recorded (disk full or failing), they stay held,
    /// new segments are refused (503) and the writer tries again every [`SAVE_RETRY`], so the
    /// stream recovers by itself once the fault clears; a segment held at a stop stays in the
    /// spool, and the next start takes its sequence numbers from it.
    pub(super) fn release(&mut self) -> io::Result<()> {
        let needs_save =
            self.held.iter().any(|m| matches!(m, Handoff::Segment(_))) || self.next_seq_unsaved;
        if needs_save && self.saved_next_seq < self.next_seq {
            if let Err(e) = next_seq::write(&self.dir, self.next_seq) {
                if !self.next_seq_unsaved {
                    tracing::error!(stream = %self.config.name, dir = %self.dir.display(), error = %e,
                        "cannot record the next sequence number; sealed batches wait in the spool and new records are refused until it is");
                }
                self.next_seq_unsaved = true;
                self.retry_save = Some(Instant::now() + SAVE_RETRY);
                return Err(e);
            }
            self.saved_next_seq = self.next_seq;
        }
        if self.next_seq_unsaved {
            tracing::info!(stream = %self.config.name, "the next sequence number is recorded again; held batches land");
        }
        self.next_seq_unsaved = false;
        self.retry_save = None;
        for msg in self.held.drain(..) {
            if let Err(mpsc::error::SendError(msg)) = self.handoff.send(msg) {
                match msg {
                    Handoff::Barrier(done) => {
                        let _ = done.send(());
                    }
                    Handoff::Segment(_) => tracing::error!(stream = %self.config.name,
                        "the spool's consumer stopped; segment stays in the spool for the next start"),
                }
            }
        }
        Ok(())
    }
}
