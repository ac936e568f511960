//! Support for the tests in this binary.

use std::io::StdoutLock;

/// RLIMIT_FSIZE at `bytes` ([`testkit::faults::limit_file_size`]: a write that crosses it
/// fails with EFBIG, as on a full disk) until the guard drops, which lifts the cap, on a panic
/// too: a failed test leaves no cap behind for the tests after it.
///
/// The guard also holds the lock on this process's stdout. The test harness prints each
/// finished test's result from its main thread, through that lock, to a stdout that may be a
/// file (`cargo test > log`), where the cap would make the write fail and end the run; it
/// waits for the guard instead.
pub fn limit_file_size(bytes: u64) -> FileSizeLimit {
    let stdout = std::io::stdout().lock();
    testkit::faults::limit_file_size(bytes);
    FileSizeLimit { _stdout: stdout }
}

/// A file size cap: see [`limit_file_size`].
#[must_use = "the cap is lifted when the guard drops"]
pub struct FileSizeLimit {
    _stdout: StdoutLock<'static>,
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        testkit::faults::limit_file_size(libc::RLIM_INFINITY);
    }
}
