//! The spool gauge: bytes the spool holds (segments not yet landed) against its limit, shared
//! by every stream, published as [`SPOOL_BYTES`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::AppendError;
use crate::metric_names::SPOOL_BYTES;

/// Bytes the spool holds (segments not yet landed), against its limit.
pub(crate) struct SpoolGauge {
    used: AtomicU64,
    max: u64,
}

impl SpoolGauge {
    /// An empty spool that may hold `max` bytes.
    pub(crate) fn new(max: u64) -> SpoolGauge {
        SpoolGauge {
            used: AtomicU64::new(0),
            max,
        }
    }

    /// Reserves room for `n` more bytes, or refuses when that would pass the limit. An empty
    /// spool always takes the request, however large, so nothing is refused forever.
    pub(crate) fn try_reserve(&self, n: u64) -> Result<(), AppendError> {
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

    /// Counts `n` bytes that are in the spool already (recovered segments, segment headers).
    pub(crate) fn add(&self, n: u64) {
        let v = self.used.fetch_add(n, Ordering::AcqRel) + n;
        self.publish(v);
    }

    /// Gives back `n` bytes (landed, quarantined or refused).
    pub(crate) fn release(&self, n: u64) {
        let prev = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            })
            .unwrap_or(0);
        self.publish(prev.saturating_sub(n));
    }

    /// Bytes in the spool now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The limit.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// Whether the spool is at its limit.
    pub(crate) fn full(&self) -> bool {
        self.used() >= self.max
    }

    fn publish(&self, v: u64) {
        metrics::gauge!(SPOOL_BYTES).set(v as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_but_never_when_empty() {
        let g = SpoolGauge::new(100);
        g.try_reserve(250).unwrap();
        assert!(g.full());
        let err = g.try_reserve(1).unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::SpoolFull {
                    used: 250,
                    max: 100
                }
            ),
            "{err}"
        );
        g.release(250);
        assert_eq!(g.used(), 0);
        g.try_reserve(60).unwrap();
        g.add(30);
        assert_eq!(g.used(), 90);
        assert!(!g.full());
        assert!(g.try_reserve(11).is_err());
        g.try_reserve(10).unwrap();
        assert!(g.full());
        g.release(1_000);
        assert_eq!(g.used(), 0);
    }
}
