//! The Snowpipe REST API, both sides of the wire.
//!
//! - wire types (`insertFiles`, `insertReport`, `loadHistoryScan` requests and responses),
//!   used by the client here and by the embedded pipe in `warehouse::rest`;
//! - key-pair JWT: the signer a client uses and the verifier a server uses;
//! - the client that notifies a pipe of landed files and asks what it loaded.
