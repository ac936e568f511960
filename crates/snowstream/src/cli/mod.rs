//! The subcommands of the `snowstream` binary other than `serve` (which is the library's
//! [`snowstream::App`] over resolved [`snowstream::ServeArgs`]).

pub mod demo;
pub mod pipe;
pub mod query;
pub mod sql;

use std::path::PathBuf;

use anyhow::Result;
use warehouse::TableSpec;

/// The table spec in `path`, or the built-in customers spec.
pub fn load_spec(path: Option<&PathBuf>) -> Result<TableSpec> {
    Ok(match path {
        Some(p) => TableSpec::from_file(p)?,
        None => TableSpec::customers(),
    })
}
