//! Harnesses shared by this crate's two test binaries, `it` and `serial` (each includes this
//! module by path): what `common/`, `s3_support/`, `whole_support/` and `nifi_support/` held
//! in crates/server/tests, and `inprocess/` here.
//!
//! - [`receiver`]: the shipped app on 127.0.0.1 with a switchable local sink, a reqwest
//!   client, and readers for the landed records (was `common`);
//! - [`s3`]: the app with its S3 API front door, aws-sdk-s3 clients and S3 helpers (was
//!   `s3_support`);
//! - [`whole`]: readers for FlowFiles landed whole, content and sidecar (was `whole_support`);
//! - [`nifi`]: a raw HTTP/1.1 client writing exactly what NiFi's processors write (was
//!   `nifi_support`);
//! - [`inprocess`]: `snowstream serve` settings from flags, raw-socket helpers;
//! - [`dead_letter`]: what the dead-letter tests of both binaries share.
//!
//! `receiver` and `s3` each keep their own `gzip`: the first compresses at the default level,
//! the second at the fastest, and tests assert on the sizes they send.
#![allow(dead_code)] // each binary uses a part of it

pub mod dead_letter;
pub mod inprocess;
pub mod nifi;
pub mod receiver;
pub mod s3;
pub mod whole;
