//! The records crate's integration tests, one binary (`it`): each module was once a test file
//! of its own, linked on its own. `parse_proptest`'s saved failure cases sit beside it
//! (`parse_proptest.proptest-regressions`), where proptest looks for them.
//!
//! The tests share the process and run concurrently, so none of them may change process-wide
//! state (environment variables, a global metrics recorder or tracing subscriber, rlimits,
//! failpoints): such a test needs a binary of its own where it runs alone.

mod batch;
mod gzip;
mod parse;
mod parse_proptest;
