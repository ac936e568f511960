//! The sinks: the conformance suite against each backend, and what only that backend does.

mod local;
mod s3;
mod s3_answer_lost;
