//! One retry policy for everything in landing that waits out a failure: exponential backoff
//! starting at [`Backoff::INITIAL`] and doubling per failure up to a cap. There is no jitter
//! (there never was: each waiter is one task per stream, so there is no herd to spread).

use std::time::Duration;

/// Exponential backoff without jitter: the wait before retry `n` (0-based) is
/// `initial · 2ⁿ`, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl Backoff {
    /// The wait before the first retry, for every policy here: 200 ms.
    pub const INITIAL: Duration = Duration::from_millis(200);

    /// Landing a batch file (encode, put, manifest) and queueing its key for Snowpipe: retried
    /// for as long as it takes, since the spool keeps the data; waits top out at 30 s.
    pub const LANDER: Backoff = Backoff::capped(Duration::from_secs(30));

    /// The Snowpipe notifier's `insertFiles` calls: retried until they succeed; waits top out
    /// at 60 s.
    pub const NOTIFIER: Backoff = Backoff::capped(Duration::from_secs(60));

    /// Starts at [`Backoff::INITIAL`], doubling up to `max`.
    pub const fn capped(max: Duration) -> Backoff {
        Backoff {
            initial: Backoff::INITIAL,
            max,
        }
    }

    /// How long to wait before retry number `retry` (0 = the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        self.initial
            .saturating_mul(1 << retry.min(16))
            .min(self.max)
    }
}

/// A bounded retry: at most `attempts` tries in all, waiting per `backoff` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Tries in all, the first one included.
    pub attempts: u32,
}

impl RetryPolicy {
    /// Pass-through puts (`Landing::put_whole`): 4 attempts with waits of 200, 400 and 800 ms
    /// (about 1.4 s in all), then the error goes back to the client, whose own retry takes
    /// over instead of a hanging request.
    pub const PUT_WHOLE: RetryPolicy = RetryPolicy {
        backoff: Backoff::LANDER,
        attempts: 4,
    };

    /// The wait after `failed` attempts have failed (1 after the first), or `None` when no
    /// attempt is left.
    pub fn wait_after(&self, failed: u32) -> Option<Duration> {
        (failed >= 1 && failed < self.attempts).then(|| self.backoff.delay(failed - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(b: Backoff, retries: u32) -> Vec<u128> {
        (0..retries).map(|r| b.delay(r).as_millis()).collect()
    }

    #[test]
    fn lander_backoff_doubles_from_200_ms_up_to_30_s() {
        assert_eq!(
            millis(Backoff::LANDER, 10),
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        assert_eq!(Backoff::LANDER.delay(u32::MAX).as_millis(), 30_000);
    }

    #[test]
    fn notifier_backoff_doubles_from_200_ms_up_to_60_s() {
        assert_eq!(
            millis(Backoff::NOTIFIER, 11),
            [
                200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000
            ]
        );
    }

    #[test]
    fn put_whole_waits_three_times_then_gives_up() {
        let p = RetryPolicy::PUT_WHOLE;
        let waits: Vec<_> = (1..=5).map(|n| p.wait_after(n)).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            waits,
            [Some(ms(200)), Some(ms(400)), Some(ms(800)), None, None]
        );
        assert_eq!(p.wait_after(0), None);
    }
}
