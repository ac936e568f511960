//! The Snowpipe notify queue under failing writes.

mod queue_remove_fails;
mod queue_torn_append;
