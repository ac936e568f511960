//! The Snowpipe REST API, both sides of the wire.
//!
//! - wire types (`insertFiles`, `insertReport`, `loadHistoryScan` requests and
//!   responses, file entries, the error body), used by the client here and by the embedded
//!   pipe in `warehouse::rest`, and [`MAX_FILES_PER_CALL`];
//! - key-pair JWT: who a token speaks for ([`jwt_account`], [`jwt_subject`],
//!   [`public_key_fingerprint`]), the [`JwtSigner`] a client uses and the [`Verifier`] a
//!   server uses;
//! - the [`SnowpipeClient`] that notifies a pipe of landed files and asks what it loaded.

mod client;
mod identity;
mod sign;
mod verify;
mod wire;

// Wire types (Snowflake's "Snowpipe REST API" reference).
pub use wire::{
    ErrorBody, FileReport, HistoryScan, InsertReport, InsertRequest, InsertResponse,
    MAX_FILES_PER_CALL, ReportStatistics, StagedFile,
};

// Key-pair authentication.
pub use identity::{KeyError, account_host, jwt_account, jwt_subject, public_key_fingerprint};
pub use sign::{JwtSigner, RENEW_BEFORE, SignError, TOKEN_LIFETIME};
pub use verify::{TokenError, Verifier};

// The client.
pub use client::{CallError, SnowpipeClient};
