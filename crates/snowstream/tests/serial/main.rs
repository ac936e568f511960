//! The integration tests of the whole app that touch process-global state, in a test binary of
//! their own whose tests run one at a time (issue 26). The `it` binary runs its tests in
//! parallel threads of one process; each test here would disturb them, or be disturbed:
//!
//! - `failpoints`: `fail::cfg` turns a failpoint on (in landing's spool, the S3 front door's
//!   Complete, the pass-through sidecar put) for every app in the process, not only the
//!   test's own;
//! - `peak_rss`: the peak resident set (`VmHWM`, reset through `/proc/self/clear_refs`) is
//!   the process's, so the allocations of any test beside it would count against its bound;
//! - `recorder`: the Prometheus recorder is one per process and every app in it writes to it
//!   (a stream's stale gauge, per-stream counters); these tests assert on its values;
//! - `rlimit`: SIGXFSZ is ignored in this process (so that a child whose file size limit is
//!   cut gets EFBIG instead of dying), and every child spawned after inherits that.
//!
//! Every test first takes [`alone`], so no two of them run at once, whatever `--test-threads`
//! says (`fail::FailScenario` serializes only the failpoint tests among themselves). Tests
//! that spawn the `snowstream` binary work here as in `it`.

use std::sync::{Mutex, MutexGuard, PoisonError};

mod failpoints {
    mod http_passthrough_retry;
    mod s3_complete_crash;
}

mod peak_rss {
    mod hostile_amplification;
    mod s3_hostile_rss;
    mod s3_multipart_rss;
}

mod recorder {
    mod dead_letter;
    mod stale_alert;
    mod ui_dashboard;
}

mod rlimit {
    mod next_seq_restart;
}

#[path = "../support/mod.rs"]
mod support;

/// Held for a whole test: no other test of this binary runs meanwhile.
pub struct Alone {
    _guard: MutexGuard<'static, ()>,
}

/// Waits until no other test of this binary runs, then keeps it so until dropped (a test that
/// panicked released it too).
pub fn alone() -> Alone {
    static LOCK: Mutex<()> = Mutex::new(());
    Alone {
        _guard: LOCK.lock().unwrap_or_else(PoisonError::into_inner),
    }
}
