//! Two-phase commit ("holds"), as NiFi's ListenHTTP does for PostHTTP: a POST with
//! `x-prefer-acknowledge-uri: true` is parsed and held in memory, answered 303 with a hold
//! URI, and only appended (made durable) when the client DELETEs that URI. Unconfirmed holds
//! are dropped after the configured time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use records::Batch;

/// A held batch and when it was made.
pub(crate) struct Held {
    pub stream: String,
    pub batch: Batch,
    created: Instant,
}

/// Batches waiting for their DELETE.
pub(crate) struct Holds {
    map: Mutex<HashMap<String, Held>>,
    bytes: AtomicU64,
    max_bytes: u64,
    max_holds: usize,
    timeout: Duration,
}

/// What holding `batch` costs against the memory limit: its allocation, not its length.
fn cost(batch: &Batch) -> u64 {
    batch.allocated_len() as u64
}

impl Holds {
    pub fn new(max_bytes: u64, max_holds: usize, timeout: Duration) -> Self {
        Holds {
            map: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            max_bytes,
            max_holds,
            timeout,
        }
    }

    /// Stores a batch; `None` when holding it would exceed the memory limit (counted in
    /// allocated bytes) or the number of holds.
    pub fn put(&self, stream: String, batch: Batch) -> Option<String> {
        let mut map = self.map.lock().expect("lock");
        if map.len() >= self.max_holds {
            return None;
        }
        let size = cost(&batch);
        let before = self.bytes.fetch_add(size, Ordering::AcqRel);
        if before > 0 && before + size > self.max_bytes {
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            return None;
        }
        let id = uuid::Uuid::new_v4().to_string();
        map.insert(
            id.clone(),
            Held {
                stream,
                batch,
                created: Instant::now(),
            },
        );
        metrics::gauge!(landing::metric_names::HOLDS).increment(1.0);
        Some(id)
    }

    /// Takes a hold for confirmation.
    pub fn take(&self, id: &str) -> Option<Held> {
        let held = self.map.lock().expect("lock").remove(id)?;
        self.bytes.fetch_sub(cost(&held.batch), Ordering::AcqRel);
        metrics::gauge!(landing::metric_names::HOLDS).decrement(1.0);
        if held.created.elapsed() > self.timeout {
            return None;
        }
        Some(held)
    }

    /// Puts back a hold whose confirmation could not be made durable; it keeps its original
    /// deadline and its place within the memory limit.
    pub fn restore(&self, id: String, held: Held) {
        self.bytes.fetch_add(cost(&held.batch), Ordering::AcqRel);
        self.map.lock().expect("lock").insert(id, held);
        metrics::gauge!(landing::metric_names::HOLDS).increment(1.0);
    }

    /// Drops holds older than the timeout; returns how many.
    pub fn expire(&self) -> usize {
        let mut map = self.map.lock().expect("lock");
        let old: Vec<String> = map
            .iter()
            .filter(|(_, h)| h.created.elapsed() > self.timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            if let Some(h) = map.remove(k) {
                self.bytes.fetch_sub(cost(&h.batch), Ordering::AcqRel);
                tracing::warn!(hold = %k, stream = %h.stream, records = h.batch.records(),
                    "hold not confirmed in time; its records were dropped (the client will resend)");
            }
        }
        metrics::gauge!(landing::metric_names::HOLDS).set(map.len() as f64);
        old.len()
    }
}
