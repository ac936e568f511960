//! The snowpipe crate's integration tests, one binary (`it`): the key-pair JWT (`jwt`) and
//! the client against golden answers from Snowflake's REST reference (`history`).

mod history;
mod jwt;
