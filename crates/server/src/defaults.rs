//! The front doors' defaults, each declared once: [`ServerConfig::default`](crate::ServerConfig),
//! [`S3Config::new`](crate::s3::S3Config::new) and [`BodyBudget::default`](crate::BodyBudget)
//! use them, and snowstream's settings declare them as theirs, so `serve --help`, the README
//! and this library embedded on its own say the same.

use std::time::Duration;

/// NiFi ListenHTTP's default Base Path.
pub const BASE_PATH: &str = "contentListener";
/// NiFi ListenHTTP's default Return Code.
pub const SUCCESS_CODE: u16 = 200;
/// Largest request after decompression, and most its records may expand to once landed.
pub const MAX_REQUEST_BYTES: u64 = 256 << 20;
/// NiFi ListenHTTP's default Max Unconfirmed Flowfile Time.
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(60);
/// Most memory held batches may take.
pub const MAX_HOLD_BYTES: u64 = 256 << 20;
/// Most two-phase holds awaiting confirmation at once.
pub const MAX_HOLDS: u64 = 1000;
/// Record format of a stream when neither content type nor file extension says.
pub const FORMAT: records::Format = records::Format::Json;
/// The stream of a request that names none.
pub const STREAM: &str = "customers";
/// What `Retry-After` tells a client refused for now.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Request bodies held in memory at once, across both front doors.
pub const BODY_BUDGET_BYTES: u64 = 256 << 20;
/// A connection whose request headers are not complete this long after it opened (or after
/// its previous request) is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A request whose body sends nothing for this long fails.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Most connections open at once on each listener.
pub const MAX_CONNECTIONS: u64 = 1024;

/// Most FlowFiles in one request: a NiFi 1.x PostHTTP batch (Max Batch Size 100 MB of
/// content, no count limit: PostHTTP.java, onTrigger) of FlowFiles averaging 525 bytes or
/// more still fits.
pub const MAX_FLOWFILES_PER_REQUEST: u64 = 200_000;

/// Most attribute bytes per FlowFile: 1 MiB. NiFi writes a value past the 65,535-byte short
/// length in the long form (the `FF FF` escape, FlowFilePackagerV3.java, writeFieldLength;
/// v2's writeString always has a 4-byte length), and FlowFiles in normal use carry a few
/// such values (a JSON payload kept as an attribute, a stack trace); 128 KiB refused two of
/// them. What attributes cost once repeated on every landed line is bounded apart, by the
/// expanded size ([`MAX_REQUEST_BYTES`]).
pub const MAX_ATTRIBUTE_BYTES: u64 = 1 << 20;

/// Request headers never copied into attributes: those that carry credentials.
pub const HEADER_DENY_LIST: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
    "x-csrf-token",
    "x-xsrf-token",
];

/// Region the S3 API reports for its buckets.
pub const S3_REGION: &str = "us-east-1";
/// Incomplete multipart uploads this old are removed, their parts' space freed: a day, as
/// the AbortIncompleteMultipartUpload rule of an S3 lifecycle is commonly set (an upload
/// abandoned by a crashed client holds its share of the spool limit until then).
pub const S3_UPLOAD_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Most multipart uploads in progress at once.
pub const S3_MAX_OPEN_UPLOADS: u64 = 1000;
