//! What the spool hands out: a [`Receipt`] to each appender (through its [`AckTx`]), and to
//! its one consumer, in order, each sealed segment ([`Sealed`]) and each flush barrier
//! ([`Handoff`]). The spool defines these; who consumes them (the lander, the service) is
//! not its concern.

use std::time::Instant;

use tokio::sync::oneshot;

use super::segment::SegmentInfo;
use crate::error::AppendError;

/// What an accepted append got.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    /// Sequence number of the request's first record within its stream.
    pub first_seq: u64,
    /// Records the request held.
    pub records: u64,
    pub(crate) received: Instant,
    /// The batch's idempotency key was taken before: nothing was appended this time
    /// ([`crate::Landing::append_once`]).
    pub(crate) duplicate: bool,
}

impl Receipt {
    /// Whether this append was a repeat of a keyed batch the stream already took (its records
    /// were not appended again; `first_seq` and `records` are those of the first append).
    pub fn is_duplicate(&self) -> bool {
        self.duplicate
    }

    /// The receipt of an append with no records: nothing was written.
    pub(crate) fn empty() -> Self {
        Receipt {
            first_seq: 0,
            records: 0,
            received: Instant::now(),
            duplicate: false,
        }
    }
}

/// Where a request's acknowledgement (or its error) goes.
pub(crate) type AckTx = oneshot::Sender<Result<Receipt, AppendError>>;

/// A closed segment, with the acknowledgements that wait for it to land (`ack = landed`).
pub(crate) struct Sealed {
    pub info: SegmentInfo,
    pub acks: Vec<(AckTx, Receipt)>,
}

/// What the spool writer hands its consumer, in order.
pub(crate) enum Handoff {
    /// A sealed segment, to land. Handed over only once the sequence number after it is
    /// recorded, so the consumer may delete it once landed.
    Segment(Sealed),
    /// Report once everything handed over before is done with (for `flush`).
    Barrier(oneshot::Sender<()>),
}

/// Told when the stream's open batch opens (with its opening time in ms) and closes
/// (`None`): the status page shows how long the open batch has been filling.
pub(crate) trait BatchWatch: Send + Sync {
    fn batch_open(&self, opened_at_ms: Option<u64>);
}
