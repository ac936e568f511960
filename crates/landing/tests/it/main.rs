//! The landing crate's integration tests, one binary (`it`): each module was once a test file
//! of its own, linked on its own against the whole stack. The tests here share the process and
//! run concurrently, so none of them may change process-wide state.
//!
//! Tests that do (failpoints of the `fail` crate, RLIMIT_FSIZE, environment variables) live in
//! the other binary, `serial` (`tests/serial/main.rs`), where they run one at a time. No test
//! here configures a failpoint: the library is built with failpoints compiled in (the
//! dev-dependency enables `fail/failpoints`), and in this binary every one of them stays off.

mod lander_pipeline;
mod landing_service;
mod notify_e2e;
mod parts_append;
mod passthrough;
mod sink;
mod stranded_streams;
mod support;
