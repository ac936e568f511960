//! `snowstream serve`'s one config model.
//!
//! - [`args`]: every setting, declared once (flag, env var, TOML key, default, help) in
//!   groups: listener, spool, sink, stream, Snowpipe, S3 API.
//! - [`value`]: the value types and the one syntax of sizes, durations and lists.
//! - [`file`]: the TOML file's layer, strict about unknown keys.
//! - [`resolve`]: low-level layers → [`Settings`], the resolved configuration the app starts
//!   from (as ripgrep turns low-level args into high-level ones in one step).
//!
//! Layers: declared defaults < TOML file (`--config`) < `SNOWSTREAM_*` environment < flags.
//! A stream's settings: the top-level stream settings < its `[[streams]]` table.

pub mod args;
mod file;
mod layer;
mod resolve;
pub mod value;

use std::path::PathBuf;

use clap::Args;

pub use resolve::{S3FrontSettings, Settings, SinkSettings, StreamSettings};

/// Every flag of `snowstream serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file with these settings (and per-stream `[[streams]]` and `[s3_api]` tables); flags and env win over it.
    #[arg(long, env = "SNOWSTREAM_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten, next_help_heading = "Receiver (NiFi ListenHTTP)")]
    pub listener: args::ListenerArgs,
    #[command(flatten, next_help_heading = "Spool and process")]
    pub spool: args::SpoolArgs,
    #[command(flatten, next_help_heading = "Sink (where files land)")]
    pub sink: args::SinkArgs,
    #[command(flatten, next_help_heading = "Streams (defaults of every stream)")]
    pub stream: args::StreamArgs,
    #[command(flatten, next_help_heading = "Snowpipe REST notifier")]
    pub snowpipe: args::SnowpipeArgs,
    #[command(flatten, next_help_heading = "S3 API front door")]
    pub s3_api: args::S3ApiArgs,
}

impl ServeArgs {
    /// Reads the TOML file, stacks the layers and checks the result.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        resolve::resolve(self)
    }
}

impl Settings {
    /// The declared defaults with the receiver on 127.0.0.1 (a free port), the data directory
    /// `data_dir` and this instance id: how tests and the benchmark embed the app.
    pub fn local(data_dir: &std::path::Path, instance: &str) -> anyhow::Result<Settings> {
        ServeArgs {
            listener: args::ListenerArgs {
                listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
                ..Default::default()
            },
            spool: args::SpoolArgs {
                data_dir: Some(data_dir.to_path_buf()),
                instance_id: Some(instance.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        }
        .resolve()
    }
}

/// Adds `[default: …]`, as declared, to the help of each setting of `serve` (clap shows a
/// default only for `default_value`, which would hide whether a flag was given).
pub fn defaults_in_help(serve: clap::Command) -> clap::Command {
    let defaults = [
        args::ListenerArgs::defaults(),
        args::SpoolArgs::defaults(),
        args::SinkArgs::defaults(),
        args::StreamArgs::defaults(),
        args::SnowpipeArgs::defaults(),
        args::S3ApiArgs::defaults(),
    ];
    serve.mut_args(|arg| {
        let id = arg.get_id().as_str().to_owned();
        match defaults
            .iter()
            .flat_map(|d| d.iter())
            .find(|(k, _)| *k == id)
        {
            Some((_, d)) if !d.is_empty() => {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                let help = format!("{} [default: {d}]", help.trim_end_matches('.'));
                arg.help(help)
            }
            _ => arg,
        }
    })
}

/// Removes `SNOWSTREAM_*` variables that are set but blank, so that (as in an env file with
/// `SNOWSTREAM_S3_ENDPOINT_URL=`) an empty variable means "not set" for every setting.
///
/// # Safety
/// Call before any other thread exists (it changes the process environment).
pub unsafe fn unset_blank_env() {
    let blank: Vec<_> = std::env::vars_os()
        .filter(|(k, v)| {
            k.to_str().is_some_and(|k| k.starts_with("SNOWSTREAM_"))
                && v.to_str().is_some_and(|v| v.trim().is_empty())
        })
        .map(|(k, _)| k)
        .collect();
    for k in blank {
        // SAFETY: the caller guarantees no other thread reads or writes the environment.
        unsafe { std::env::remove_var(k) };
    }
}

#[cfg(test)]
mod tests;
