//! The spool: per-stream directories of segment files written with group commit.

pub(crate) mod keys;
pub(crate) mod recover;
pub(crate) mod segment;
pub(crate) mod syncer;
pub(crate) mod writer;
