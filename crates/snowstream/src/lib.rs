//! snowstream as a library: the one config model and the one wiring of the app.
//!
//! - [`config`]: every setting declared once; flags, `SNOWSTREAM_*` env and the TOML file
//!   resolve into [`Settings`].
//! - [`App`]: starts the sink, the landing service, the HTTP receiver, the S3 API front door
//!   and metrics from [`Settings`]; [`Running`] stops them in order. Both front doors are
//!   served by `server::listener`; this crate only wires the settings to it.
//!
//! The `snowstream` binary (`serve`, `demo`, `sql`, `query`, `pipe`, `healthcheck`), the
//! benchmark and the integration tests all start the app through here.

pub mod allocator;
mod app;
pub mod config;

pub use app::{App, Builder, MetricsRender, Running, make_sink, signal};
pub use config::{ServeArgs, Settings};
