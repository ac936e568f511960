//! Settings of the S3 front door: credentials, bucket → stream routes, multipart spool.

use crate::defaults as d;
use std::path::PathBuf;
use std::time::Duration;

/// One access key the S3 front door accepts.
#[derive(Clone)]
pub struct S3Credential {
    pub access_key: String,
    pub secret_key: String,
    /// Buckets this key may write; empty means every configured bucket.
    pub buckets: Vec<String>,
}

impl std::fmt::Debug for S3Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credential")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("buckets", &self.buckets)
            .finish()
    }
}

impl S3Credential {
    /// Parses `ACCESS_KEY:SECRET_KEY[:bucket1|bucket2]` (AWS keys contain no `:`).
    pub fn parse(spec: &str) -> Result<S3Credential, String> {
        let mut parts = spec.trim().splitn(3, ':');
        let access_key = parts.next().unwrap_or_default().trim();
        let secret_key = parts.next().unwrap_or_default().trim();
        if access_key.is_empty() || secret_key.is_empty() {
            return Err(
                "an S3 credential must be ACCESS_KEY:SECRET_KEY[:bucket1|bucket2]".to_owned(),
            );
        }
        let buckets = parts
            .next()
            .map(|b| {
                b.split('|')
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(S3Credential {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            buckets,
        })
    }

    pub(crate) fn may_write(&self, bucket: &str) -> bool {
        self.buckets.is_empty() || self.buckets.iter().any(|b| b == bucket)
    }
}

/// Objects put to `bucket` under keys starting with `prefix` become records of `stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRoute {
    pub bucket: String,
    /// Key prefix ("" matches every key). The longest matching prefix wins.
    pub prefix: String,
    pub stream: String,
}

impl BucketRoute {
    /// Parses `bucket=stream` or `bucket/key/prefix=stream`.
    pub fn parse(spec: &str) -> Result<BucketRoute, String> {
        let (target, stream) = spec
            .trim()
            .split_once('=')
            .ok_or_else(|| format!("bucket route {spec:?} must be BUCKET[/PREFIX]=STREAM"))?;
        let (bucket, prefix) = target.split_once('/').unwrap_or((target, ""));
        let (bucket, stream) = (bucket.trim(), stream.trim());
        if bucket.is_empty() || stream.is_empty() {
            return Err(format!(
                "bucket route {spec:?} must be BUCKET[/PREFIX]=STREAM"
            ));
        }
        Ok(BucketRoute {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_start_matches('/').to_owned(),
            stream: stream.to_owned(),
        })
    }
}

/// How the S3 front door behaves.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Region reported by GetBucketLocation/HeadBucket (clients sign with any region).
    pub region: String,
    pub credentials: Vec<S3Credential>,
    pub routes: Vec<BucketRoute>,
    /// Where multipart parts are spooled until the upload completes.
    pub uploads_dir: PathBuf,
    /// Incomplete multipart uploads older than this are removed.
    pub upload_max_age: Duration,
    /// A connection whose request headers are not complete this long after it opened (or
    /// after its previous request) is closed.
    pub header_read_timeout: Duration,
    /// Most connections open at once; more are closed at once.
    pub max_connections: usize,
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A request whose body sends nothing for this long fails (`RequestTimeout`), its
    /// connection closed; nothing of it is kept.
    pub body_read_timeout: Duration,
    /// Most multipart uploads in progress at once; CreateMultipartUpload gets SlowDown above.
    pub max_open_uploads: usize,
    /// Most bytes the stored parts of every upload in progress plus the spool may hold
    /// together (the spool limit): UploadPart gets SlowDown above it.
    pub max_parts_bytes: u64,
    /// Bytes of records CompleteMultipartUpload parses and appends at a time (NDJSON and CSV
    /// objects; see `ops::complete`). Not a setting: tests make it small to cut objects into
    /// many chunks.
    pub complete_chunk_bytes: usize,
}

impl S3Config {
    /// A configuration with defaults for everything but credentials and routes.
    pub fn new(uploads_dir: impl Into<PathBuf>) -> S3Config {
        S3Config {
            region: d::S3_REGION.into(),
            credentials: Vec::new(),
            routes: Vec::new(),
            uploads_dir: uploads_dir.into(),
            upload_max_age: d::S3_UPLOAD_MAX_AGE,
            header_read_timeout: d::HEADER_READ_TIMEOUT,
            max_connections: d::MAX_CONNECTIONS as usize,
            tls: None,
            body_read_timeout: d::BODY_READ_TIMEOUT,
            max_open_uploads: d::S3_MAX_OPEN_UPLOADS as usize,
            max_parts_bytes: landing::defaults::SPOOL_MAX_BYTES,
            complete_chunk_bytes: super::chunked::CHUNK_BYTES,
        }
    }

    pub(crate) fn has_bucket(&self, bucket: &str) -> bool {
        self.routes.iter().any(|r| r.bucket == bucket)
    }

    /// The stream for an object key: the route of `bucket` with the longest matching prefix.
    pub(crate) fn route(&self, bucket: &str, key: &str) -> Option<&BucketRoute> {
        self.routes
            .iter()
            .filter(|r| r.bucket == bucket && key.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
    }

    pub(crate) fn credential(&self, access_key: &str) -> Option<&S3Credential> {
        self.credentials.iter().find(|c| c.access_key == access_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_and_routes() {
        let c = S3Credential::parse("AK:se/cr+et:b1|b2").unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret_key.as_str()),
            ("AK", "se/cr+et")
        );
        assert_eq!(c.buckets, ["b1", "b2"]);
        assert!(c.may_write("b2") && !c.may_write("b3"));
        assert!(S3Credential::parse("AK:S").unwrap().may_write("any"));
        assert!(S3Credential::parse("AK").is_err());

        let r = BucketRoute::parse("raw/nifi/=customers").unwrap();
        assert_eq!((r.bucket.as_str(), r.prefix.as_str()), ("raw", "nifi/"));
        assert!(BucketRoute::parse("raw").is_err());
    }

    #[test]
    fn longest_prefix_wins() {
        let mut cfg = S3Config::new("/tmp/x");
        cfg.routes = vec![
            BucketRoute::parse("b=all").unwrap(),
            BucketRoute::parse("b/orders/=orders").unwrap(),
        ];
        assert_eq!(cfg.route("b", "orders/1.csv").unwrap().stream, "orders");
        assert_eq!(cfg.route("b", "x/1.csv").unwrap().stream, "all");
        assert!(cfg.route("c", "x").is_none());
    }
}
