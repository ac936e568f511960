//! The landing crate's tests that change process-wide state, one binary (`serial`), apart
//! from the other integration tests (`tests/it/main.rs`), which run concurrently in theirs and
//! would meet that state. Each module was once a test file of its own.
//!
//! What they change: the failpoint registry of the `fail` crate (`fail::cfg`; the library is
//! built with failpoints compiled in), RLIMIT_FSIZE (a full disk, [`support::limit_file_size`])
//! and environment variables (`sink_s3_env`).
//!
//! So every test here runs alone: each starts with `fail::FailScenario::setup()`, which holds
//! the `fail` crate's process-wide scenario lock until the test ends (and clears any failpoint
//! a failed test left behind), whatever `--test-threads` says. A new test in this binary must
//! do the same, whether or not it configures a failpoint.

mod disk_faults;
mod notify;
mod put_with_sidecar_faults;
mod sink_s3_env;
mod spool;
mod staged_faults;
mod support;
