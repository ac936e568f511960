//! The one way into a stream's spool writer thread: [`WriterHandle`] (append, flush, close),
//! and the messages it sends, private to the writer.

use std::sync::mpsc::Sender;
use std::time::Instant;

use tokio::sync::oneshot;

use super::run::Run;
use crate::spool::AckTx;

/// One request's records for the writer.
pub(crate) struct Append {
    pub body: Body,
    /// Records in `body`.
    pub records: u64,
    /// Spool bytes reserved for it in the gauge (given back if it is not written).
    pub reserved: u64,
    pub received: Instant,
    /// Idempotency key: a batch with a key the stream already took is not written again.
    pub key: Option<String>,
    pub ack: AckTx,
}

/// What an append writes.
pub(crate) enum Body {
    /// One packed batch ([`records::Batch::into_bytes`]): one frame.
    One(Vec<u8>),
    /// A request pushed in parts: one run of frames.
    Run(Run),
}

impl Body {
    /// Payload bytes it writes (frame headers not counted).
    pub fn len(&self) -> u64 {
        match self {
            Body::One(payload) => payload.len() as u64,
            Body::Run(run) => run.len(),
        }
    }
}

pub(super) enum WriterMsg {
    Append(Append),
    /// Close the open batch now and report once everything before it has been handed over
    /// and done with.
    Flush {
        done: oneshot::Sender<()>,
    },
    /// The sync thread's fsync finished (sent by the sync thread only).
    Synced(std::io::Result<()>),
    /// Stop once everything sent before is handled.
    Close,
}

/// Sends to a stream's writer thread; every method says whether the writer took it (false
/// once the thread is gone).
pub(crate) struct WriterHandle {
    pub(super) tx: Sender<WriterMsg>,
}

impl WriterHandle {
    /// Appends a request; its answer comes on `append.ack`.
    pub fn append(&self, append: Append) -> bool {
        self.tx.send(WriterMsg::Append(append)).is_ok()
    }

    /// Seals the open batch; `done` is answered once everything before is done with.
    pub fn flush(&self, done: oneshot::Sender<()>) -> bool {
        self.tx.send(WriterMsg::Flush { done }).is_ok()
    }

    /// Tells the writer to stop after what was sent before (its sync thread keeps the
    /// channel open, so the writer does not wait for every handle to drop).
    pub fn close(&self) {
        let _ = self.tx.send(WriterMsg::Close);
    }
}
