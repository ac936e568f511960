//! The Snowpipe notify queue under a write that fails half-way (issue 12, item 3).
//!
//! The fault is injected, not imagined: RLIMIT_FSIZE caps how large a file this process may
//! write, so an append that crosses the cap is cut short and fails with EFBIG (SIGXFSZ is
//! ignored), as a full disk cuts it short with ENOSPC. The limit is process-wide, so the test
//! runs alone (see `main.rs`).

use landing::notify::NotifyQueue;

use crate::support::limit_file_size;

#[test]
fn a_torn_append_is_cut_off_so_the_next_key_survives_a_restart() {
    // Alone in this binary (see main.rs): the file size cap below is process-wide.
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snowpipe.queue");
    let first = "raw/customers/dt=2026-11-29/hh=20/ss-1-00000000000000000001.ndjson.zst";
    let torn = "raw/customers/dt=2026-11-29/hh=20/ss-1-00000000000000001001.ndjson.zst";
    let next = "raw/customers/dt=2026-11-29/hh=20/ss-1-00000000000000002001.ndjson.zst";

    let q = NotifyQueue::open(&path).unwrap();
    q.push(first).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();

    // Room for 10 more bytes: the next line is written in part, then the write fails.
    let full = limit_file_size(len + 10);
    let err = q
        .push(torn)
        .expect_err("the append crosses the file size limit");
    drop(full);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        len,
        "the torn line was cut off ({err})"
    );
    assert_eq!(q.peek(10), [first], "a failed push is not pending");

    // The caller retries the failed key later; a key pushed meanwhile must not be glued to
    // anything, and both survive a restart.
    q.push(next).unwrap();
    q.push(torn).unwrap();
    drop(q);
    let q = NotifyQueue::open(&path).unwrap();
    assert_eq!(q.peek(10), [first, next, torn]);
    scenario.teardown();
}
