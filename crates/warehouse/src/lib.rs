//! Warehouse: an embedded local stand-in for Snowpipe, streams and tasks.
//!
//! Loads landed files exactly once into a raw table (SQLite), tracks new rows with
//! per-consumer stream offsets, and applies SCD1 (latest) and SCD2 (history) merges with
//! the same semantics as the Snowflake SQL in `sql/`.
