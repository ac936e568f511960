//! Renders the Snowflake objects for a table spec (filled in below).
