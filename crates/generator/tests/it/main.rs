//! The generator crate's integration tests, one binary (`it`): each module was once a test file
//! of its own, linked on its own. (The `snowstream-gen` command line is wired in the
//! `snowstream` crate; its tests are there, `tests/it/gen_cli.rs`.)
//!
//! The tests share the process and run concurrently, so none of them may change process-wide
//! state (environment variables, a global metrics recorder or tracing subscriber, rlimits,
//! failpoints): such a test needs a binary of its own where it runs alone.

mod formats;
mod http;
mod oracle;
mod stream;
