//! Record formats, with no network and no spool: what arrives and what lands.
//!
//! - **In**: the content formats a front door accepts (JSON, NDJSON, CSV), parsed into
//!   compact single-line JSON records and packed into a batch.
//! - **Out**: the landed-file format (docs/architecture.md, contract 1): keys, lines and
//!   manifests, with the one writer and the one reader of those files.

pub mod landed;
