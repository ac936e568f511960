//! Warehouse: an embedded local stand-in for Snowpipe, streams and tasks, and the renderer
//! of the real Snowflake objects.
//!
//! A [`TableSpec`] (TOML, see `specs/customers.toml`) describes one table. From it,
//! [`snowflake::render`] produces the numbered Snowflake scripts committed in `sql/`
//! (stage, pipe, streams, SCD1/SCD2 tasks), and [`Warehouse`] runs the same pipeline on a
//! local SQLite file: it loads landed files exactly once into a raw table, tracks new rows
//! with per-consumer stream offsets, and applies SCD1 (latest) and SCD2 (history) merges
//! with the semantics of contract 3 in `docs/architecture.md`.

mod error;
mod local;
pub mod migrate;
pub mod rest;
pub mod snowflake;
pub mod spec;
mod typing;

pub use error::Error;
pub use local::{Counts, FileError, LoadReport, QueryResult, TaskReport, Warehouse};
pub use spec::TableSpec;
