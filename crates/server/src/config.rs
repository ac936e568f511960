//! Settings shared by both front doors (HTTP and S3 API), with their NiFi ListenHTTP
//! analogues: request limits, the answer to a full spool, and each stream's options.

use std::collections::HashMap;
use std::time::Duration;

use regex::Regex;

use records::Format;

use crate::defaults as d;

/// What the front doors need to know of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Record format when neither content type nor file extension says (default JSON).
    pub format: Format,
    /// Land each S3 API object and each HTTP FlowFile whole under its own key instead of
    /// parsing records.
    pub pass_through: bool,
    /// What a FlowFile whose content does not parse does to its HTTP request.
    pub on_parse_error: OnParseError,
    /// The form of the stream's landed lines; with `record` a record's FlowFile attributes
    /// do not count against `max_request_bytes` once per record.
    pub envelope: records::landed::Envelope,
}

/// What a FlowFile whose content does not parse does to its HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnParseError {
    /// The whole request is refused with 400 and nothing of it is kept (all-or-nothing).
    #[default]
    Reject,
    /// The FlowFile lands whole under the stream's dead-letter prefix with its attributes and
    /// the reason, and the request's other FlowFiles are accepted.
    DeadLetter,
}

impl std::fmt::Display for OnParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OnParseError::Reject => "reject",
            OnParseError::DeadLetter => "dead-letter",
        })
    }
}

impl std::str::FromStr for OnParseError {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "reject" => Ok(OnParseError::Reject),
            "dead-letter" | "dead_letter" => Ok(OnParseError::DeadLetter),
            _ => Err(format!(
                "unknown on-parse-error policy {s:?} (expected reject or dead-letter)"
            )),
        }
    }
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            format: d::FORMAT,
            pass_through: false,
            on_parse_error: OnParseError::Reject,
            envelope: records::landed::Envelope::Meta,
        }
    }
}

/// How the front doors behave.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// NiFi "Base Path": requests go to `/{base_path}` and `/{base_path}/{stream}`.
    pub base_path: String,
    /// NiFi "Return Code": status for an accepted request (default 200).
    pub success_code: u16,
    /// NiFi "HTTP Headers to receive as Attributes (Regex)": matching request headers become
    /// FlowFile attributes (and so land in each record's `meta.attributes`).
    pub headers_as_attributes: Option<Regex>,
    /// Largest request, after decompression, in bytes (413 above it).
    pub max_request_bytes: u64,
    /// NiFi "Max Unconfirmed Flowfile Time": a hold not confirmed by DELETE within this is dropped.
    pub hold_timeout: Duration,
    /// Most bytes held in memory awaiting confirmation (503 above it).
    pub max_hold_bytes: u64,
    /// When set, every ingest request must carry `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    /// HTTP Basic users (PostHTTP's Username/Password); any one, or the bearer token, is enough.
    pub basic_auth: Vec<crate::auth::BasicUser>,
    /// With client certificates required (mutual TLS): a certificate's subject DN must match
    /// this whole (NiFi ListenHTTP's Authorized Subject DN Pattern), else 403.
    pub authorized_dn: Option<Regex>,
    /// Then its issuer DN must match this whole (Authorized Issuer DN Pattern), else 403.
    pub authorized_issuer_dn: Option<Regex>,
    /// Stream used when neither the path nor the `x-snowstream-stream` header names one.
    pub default_stream: String,
    /// Each stream's options (a stream not listed has the defaults).
    pub streams: HashMap<String, StreamOptions>,
    /// Seconds clients are told to wait in `Retry-After` when the spool is full.
    pub retry_after_secs: u32,
    /// Most FlowFiles one request (package) may carry (413 above it).
    pub max_flowfiles_per_request: u64,
    /// Most bytes of attribute keys plus values one FlowFile may carry (413 above it).
    pub max_attribute_bytes: u64,
    /// Request headers never copied into attributes, even when `headers_as_attributes`
    /// matches them: credentials must not land in data (lowercase names).
    pub header_deny_list: Vec<String>,
    /// When set, `GET /metrics` must carry `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Most two-phase holds awaiting confirmation at once (503 above it).
    pub max_holds: usize,
    /// Request bodies held in memory at once, across both front doors (503 above it). Clones
    /// of this config share it.
    pub body_budget: crate::BodyBudget,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            base_path: d::BASE_PATH.into(),
            success_code: d::SUCCESS_CODE,
            headers_as_attributes: None,
            max_request_bytes: d::MAX_REQUEST_BYTES,
            hold_timeout: d::HOLD_TIMEOUT,
            max_hold_bytes: d::MAX_HOLD_BYTES,
            auth_token: None,
            basic_auth: Vec::new(),
            authorized_dn: None,
            authorized_issuer_dn: None,
            default_stream: d::STREAM.into(),
            streams: HashMap::new(),
            retry_after_secs: d::RETRY_AFTER.as_secs() as u32,
            max_flowfiles_per_request: d::MAX_FLOWFILES_PER_REQUEST,
            max_attribute_bytes: d::MAX_ATTRIBUTE_BYTES,
            header_deny_list: d::HEADER_DENY_LIST
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            metrics_token: None,
            max_holds: d::MAX_HOLDS as usize,
            body_budget: crate::BodyBudget::default(),
        }
    }
}

impl ServerConfig {
    /// The stream's format when neither content type nor file extension says.
    pub(crate) fn default_format(&self, stream: &str) -> Format {
        self.streams.get(stream).map_or(d::FORMAT, |o| o.format)
    }

    /// Whether the stream lands objects whole instead of parsing records.
    pub(crate) fn is_pass_through(&self, stream: &str) -> bool {
        self.streams.get(stream).is_some_and(|o| o.pass_through)
    }

    /// The form of the stream's landed lines.
    pub(crate) fn envelope(&self, stream: &str) -> records::landed::Envelope {
        self.streams
            .get(stream)
            .map_or_else(Default::default, |o| o.envelope)
    }

    /// The stream's policy for FlowFiles that do not parse.
    pub(crate) fn on_parse_error(&self, stream: &str) -> OnParseError {
        self.streams
            .get(stream)
            .map_or(OnParseError::Reject, |o| o.on_parse_error)
    }
}
