//! The deploy-check crate's integration tests, one binary (`it`): each module was once a test
//! file of its own, linked on its own; `support` holds what they share (the repository's real
//! deployment files).
//!
//! The tests share the process and run concurrently, so none of them may change process-wide
//! state (environment variables, a global metrics recorder or tracing subscriber, rlimits,
//! failpoints): such a test needs a binary of its own where it runs alone.

mod broken_files;
mod production;
mod releases;
mod repo_files;
mod support;
