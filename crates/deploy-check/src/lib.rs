//! Structural checks for snowstream's deployment files, run by `cargo test`.
//!
//! No NiFi and no Docker engine run in CI, so this crate reads the files the way those tools
//! would and reports what they would reject or silently get wrong: NiFi 2.x flow definitions
//! (JSON) and 1.x templates (XML) are checked against a list of real NiFi processor types,
//! property names and relationships (`known-nifi.toml`, taken from NiFi's source);
//! `docker-compose.yml` and the `Dockerfile` are checked for the structure the stack relies on.
//! Every check returns a list of [`Problem`]s; an empty list means the file passed.

mod compose;
mod dockerfile;
mod flow;
mod flow_import;
mod grafana;
mod known;
mod lifecycle;
mod params;
mod placeholders;
mod releases;
mod template;

pub use compose::{check_compose, check_env_example};
pub use dockerfile::check_dockerfile;
pub use flow::{FlowSummary, check_flow_definition};
pub use flow_import::check_flow_import;
pub use grafana::{check_dashboard, dashboard_metric_names, provisioned_datasource_uids};
pub use known::{Component, KnownNifi, NifiLine};
pub use lifecycle::check_compose_lifecycle;
pub use params::parameter_refs;
pub use placeholders::check_placeholder_guard;
pub use releases::{Range, Releases, check_flow_releases};
pub use template::check_template;

use std::fmt;

/// One thing wrong with a deployment file, phrased for the person who edits that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file could not be read as the format it claims to be.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not valid XML: {0}")]
    Xml(#[from] roxmltree::Error),
    #[error("not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("known-nifi list is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("unexpected shape: {0}")]
    Shape(String),
}

pub(crate) fn problem(list: &mut Vec<Problem>, msg: impl Into<String>) {
    list.push(Problem(msg.into()));
}

/// InvokeHTTP's content-type property (2.x `Request Content-Type`, 1.x `Content-Type`) set to
/// a bare `${mime.type}`: behind NiFi's ListenHTTP, which never sets `mime.type`
/// (ListenHTTPServlet sets only `filename`, `uuid`, the `restlistener.*` attributes and the
/// headers its regex matches), that sends every FlowFile as `application/octet-stream`.
pub(crate) fn bare_mime_type(
    name: &str,
    type_name: &str,
    key: &str,
    value: &str,
) -> Option<String> {
    let content_type_key = key == "Request Content-Type" || key == "Content-Type";
    if !(type_name.ends_with(".InvokeHTTP") && content_type_key) {
        return None;
    }
    if value.trim() == "${mime.type}" {
        return Some(format!(
            "`{name}`: `{key}` is a bare `${{mime.type}}`, which ListenHTTP never sets: default it \
             (e.g. `${{mime.type:replaceEmpty(...)}}`) or state the stream's format"
        ));
    }
    // ListenHTTP copies a matching request header onto every FlowFile it makes, so behind a
    // package (application/flowfile-v3) or a form (multipart/form-data) each unpacked FlowFile
    // carries that type, which is not its content's.
    let forwards_request_type = value.to_ascii_lowercase().contains("'content-type'");
    let drops_wrappers = value.contains("flowfile") && value.contains("multipart");
    (forwards_request_type && !drops_wrappers).then(|| {
        format!(
            "`{name}`: `{key}` forwards the request's Content-Type, which for a FlowFile package \
             or a form is the wrapper's type (application/flowfile-v3, multipart/form-data), not \
             the content's: drop those (e.g. `:replaceAll('^(application/flowfile|multipart/).*', '')`)"
        )
    })
}
