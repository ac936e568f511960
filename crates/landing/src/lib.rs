//! Landing: turns acknowledged records into Snowpipe-sized files.
//!
//! Records are appended to a per-stream spool with group commit (one fsync covers every
//! request that arrived meanwhile), cut into batches by size, count or age, encoded as
//! compressed NDJSON with ingestion metadata, and put to a sink (local folder or S3)
//! under unique, immutable keys. Nothing acknowledged is lost across restarts.
