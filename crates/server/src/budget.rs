//! One budget for the request bodies both front doors (HTTP receiver, S3 API) hold in memory
//! at once. A request reserves its bytes as they arrive (after decompression) and gives them
//! back when it has been answered, so many concurrent large or slow requests cannot multiply
//! memory: past the budget a request waits briefly for room, then is refused with 503 and
//! `Retry-After` before anything of it is kept (counted in
//! `snowstream_body_budget_refused_total`). Acknowledged data is never touched.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a request over the budget waits for room before it is refused.
const WAIT: Duration = Duration::from_millis(500);

/// The first bytes of each request are outside the budget, so small requests (a single
/// record, a small batch) are served even while large ones fill it, and never touch the
/// shared count. Their memory is bounded by the connection cap (`--max-connections` times
/// this).
const FREE_BYTES: usize = 64 << 10;

/// The bytes of request bodies held at once, shared by every clone (one per process: clone
/// the [`ServerConfig`](crate::ServerConfig) that carries it to both front doors).
#[derive(Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    limit: u64,
}

impl std::fmt::Debug for BodyBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyBudget")
            .field("limit", &self.limit)
            .field("free", &self.permits.available_permits())
            .finish()
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget::new(crate::defaults::BODY_BUDGET_BYTES)
    }
}

impl BodyBudget {
    /// A budget of `bytes` (at least 1 byte, at most what a semaphore counts).
    pub fn new(bytes: u64) -> Self {
        let limit = bytes.clamp(1, Semaphore::MAX_PERMITS as u64);
        BodyBudget {
            permits: Arc::new(Semaphore::new(limit as usize)),
            limit,
        }
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes reserved by requests being received right now.
    pub fn in_use(&self) -> u64 {
        self.limit - self.permits.available_permits() as u64
    }

    /// An empty reservation for one request; its bytes go back when it is dropped.
    pub(crate) fn reservation(&self, front_door: &'static str) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            free: FREE_BYTES,
            front_door,
            refused: false,
        }
    }
}

/// The bytes one request holds in the budget.
pub(crate) struct Reservation {
    budget: BodyBudget,
    held: Option<OwnedSemaphorePermit>,
    /// What is left of the request's [`FREE_BYTES`].
    free: usize,
    front_door: &'static str,
    refused: bool,
}

/// What [`Reservation::take_now`] could do.
enum Now {
    Taken,
    /// More than the whole budget: never fits.
    Never,
    /// No room now for these bytes.
    Busy(u32),
}

/// A request's body did not fit in the budget.
#[derive(Debug)]
pub(crate) struct OverBudget {
    pub limit: u64,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many request bodies in memory at once (--max-inflight-body-size {} bytes); \
             nothing of this request was kept, retry later",
            self.limit
        )
    }
}

impl Reservation {
    /// Reserves `bytes` more, waiting briefly for room; counts a refusal in the metric.
    pub(crate) async fn take(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let n = match self.take_now(bytes) {
            Now::Taken => return Ok(()),
            Now::Never => return Err(self.refuse()),
            Now::Busy(n) => n,
        };
        let sem = self.budget.permits.clone();
        match tokio::time::timeout(WAIT, sem.acquire_many_owned(n)).await {
            Ok(Ok(p)) => {
                self.hold(p);
                Ok(())
            }
            _ => Err(self.refuse()),
        }
    }

    /// [`Reservation::take`] without waiting, for a blocking thread (an object being
    /// decompressed): refused at once when there is no room.
    pub(crate) fn try_take(&mut self, bytes: usize) -> Result<(), OverBudget> {
        match self.take_now(bytes) {
            Now::Taken => Ok(()),
            Now::Never | Now::Busy(_) => Err(self.refuse()),
        }
    }

    /// Takes `bytes` from the free allowance, then from the budget if there is room now.
    fn take_now(&mut self, bytes: usize) -> Now {
        let free = bytes.min(self.free);
        self.free -= free;
        let bytes = bytes - free;
        if bytes == 0 {
            return Now::Taken;
        }
        let n = match u32::try_from(bytes) {
            Ok(n) if u64::from(n) <= self.budget.limit => n,
            _ => return Now::Never,
        };
        match self.budget.permits.clone().try_acquire_many_owned(n) {
            Ok(p) => {
                self.hold(p);
                Now::Taken
            }
            Err(_) => Now::Busy(n),
        }
    }

    fn hold(&mut self, permit: OwnedSemaphorePermit) {
        match self.held.as_mut() {
            Some(h) => h.merge(permit),
            None => self.held = Some(permit),
        }
    }

    /// Gives back up to `bytes` of what the request holds in the budget: memory it has freed
    /// while still being received (a FlowFile parsed and dropped).
    pub(crate) fn give_back(&mut self, bytes: usize) {
        let Some(held) = self.held.as_mut() else {
            return;
        };
        if bytes >= held.num_permits() {
            self.held = None;
        } else {
            drop(held.split(bytes));
        }
    }

    /// Reserves a body's declared length at once (`Content-Length`, at most `max`), so a
    /// request is admitted whole or refused before it is read, instead of many requests each
    /// holding part of the budget; the bytes then read count against it first.
    pub(crate) async fn prepay(
        &mut self,
        declared: Option<u64>,
        max: u64,
    ) -> Result<(), OverBudget> {
        let Some(n) = declared else { return Ok(()) };
        let n = usize::try_from(n.min(max)).unwrap_or(usize::MAX);
        let before = self.free;
        self.take(n).await?;
        self.free = n.max(before);
        Ok(())
    }

    /// Why this request was refused, if it was.
    pub(crate) fn refusal(&self) -> Option<OverBudget> {
        self.refused.then_some(OverBudget {
            limit: self.budget.limit,
        })
    }

    fn refuse(&mut self) -> OverBudget {
        self.refused = true;
        metrics::counter!(landing::metric_names::BODY_BUDGET_REFUSED_TOTAL,
            "front_door" => self.front_door)
        .increment(1);
        OverBudget {
            limit: self.budget.limit,
        }
    }
}

/// Reads and discards what is left of a refused body (at most `max` bytes, each chunk
/// dropped as it comes, so it costs no memory), so that the client reads its 503 instead of
/// a connection reset: closing a socket with unread data sends RST (RFC 9112 §9.6 asks a
/// server to keep reading for this reason), and an RST may discard the answer unread.
pub(crate) async fn drain<S, E>(body: &mut S, max: u64)
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    use futures::StreamExt as _;
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = body.next().await {
        seen += chunk.len() as u64;
        if seen > max {
            break;
        }
    }
}

/// Most bytes of a refused S3 body read and discarded (the S3 front door's object limit is
/// not known here; SDKs send at most a part or an object of this order at once).
const MAX_DRAIN: u64 = 256 << 20;

/// A reservation an S3 body and its request share: the body reserves as it is read, the
/// request keeps the bytes until it has been answered.
pub(crate) type SharedReservation = Arc<tokio::sync::Mutex<Reservation>>;

/// The body's chunks, each reserved in `reservation` as it arrives; over the budget the body
/// ends with an error (and [`Reservation::refusal`] says why).
pub(crate) fn s3_body(
    body: Option<s3s::dto::StreamingBlob>,
    reservation: &SharedReservation,
) -> Option<s3s::dto::StreamingBlob> {
    use futures::StreamExt as _;
    let state = Some((body?, reservation.clone()));
    let chunks = futures::stream::unfold(state, |state| async move {
        let (mut body, reservation) = state?;
        let item = match body.next().await? {
            Ok(chunk) => {
                let taken = reservation.lock().await.take(chunk.len()).await;
                match taken {
                    Ok(()) => return Some((Ok(chunk), Some((body, reservation)))),
                    Err(e) => {
                        drain(&mut body, MAX_DRAIN).await;
                        BodyError(e.to_string())
                    }
                }
            }
            // Kept as text: the body reader tells errors apart by it.
            Err(e) => BodyError(e.to_string()),
        };
        Some((Err(item), None))
    });
    Some(s3s::dto::StreamingBlob::wrap(chunks))
}

/// An S3 body's read error, as its text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BodyError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_come_back_when_a_reservation_is_dropped() {
        let budget = BodyBudget::new(1000);
        let mut a = budget.reservation("http");
        a.take(FREE_BYTES).await.unwrap();
        assert_eq!(budget.in_use(), 0, "a request's first bytes are free");
        a.take(600).await.unwrap();
        a.take(300).await.unwrap();
        assert_eq!(budget.in_use(), 900);
        let mut b = budget.reservation("http");
        b.take(FREE_BYTES).await.unwrap();
        let err = b.take(200).await.unwrap_err();
        assert_eq!(err.limit, 1000);
        b.take(100).await.unwrap();
        drop(a);
        assert_eq!(budget.in_use(), 100);
        b.take(900).await.unwrap();
        assert!(
            budget
                .reservation("s3")
                .take(FREE_BYTES + 1001)
                .await
                .is_err()
        );
    }
}
