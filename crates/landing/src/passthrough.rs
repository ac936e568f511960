//! Pass-through: objects put to the sink unchanged, bypassing the spool, with a short bounded
//! retry ([`RetryPolicy::PUT_WHOLE`]), in a namespace of their own.
//!
//! Key layout under `{prefix}/{stream}/` (batch files and manifests live under `dt=…/`, so no
//! key below can ever name one of them):
//! - S3 API objects: `_passthrough/s3/{bucket}/{digest}/{object key}` ([`s3_object_key`]),
//!   where the digest is the first 16 hex digits of the object's SHA-256: two uploads of one
//!   key with other bytes land side by side, the same upload repeated lands once;
//! - HTTP FlowFiles: `_passthrough/http/dt=YYYY-MM-DD/hh=HH/{uuid}[.ext]` ([`flowfile_key`]);
//! - dead letters (FlowFiles that did not parse): `_dead_letter/dt=YYYY-MM-DD/hh=HH/{uuid}[.ext]`.
//!
//! A FlowFile's content is followed by its sidecar, `{content key}.attributes.json`
//! ([`SIDECAR_SUFFIX`]), put last: a sidecar in the sink means its content is there too.
//!
//! Puts are create-only (`sink::put_once`): an object already under a key is never replaced.
//! One with the same bytes (or, for a sidecar, describing the same content at the same key)
//! is the same object put again, which succeeds; anything else is refused with an ERROR.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::AppendError;
use crate::metric_names::{
    BYTES_LANDED_TOTAL, FILES_LANDED_TOTAL, SINK_COLLISIONS_TOTAL, SINK_ERRORS_TOTAL,
};
use crate::retry::RetryPolicy;
use crate::service::Landing;
use crate::sink;

/// First key segment (under `{prefix}/{stream}/`) of every pass-through object.
pub const PASS_THROUGH_DIR: &str = "_passthrough";
/// First key segment (under `{prefix}/{stream}/`) of every dead letter.
pub const DEAD_LETTER_DIR: &str = "_dead_letter";
/// Suffix of a FlowFile's sidecar key, after its content's key.
pub const SIDECAR_SUFFIX: &str = ".attributes.json";

/// Which area of a stream's pass-through namespace a FlowFile lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// A pass-through stream's FlowFile received over HTTP.
    Http,
    /// A FlowFile that did not parse, set aside by a dead-letter stream.
    DeadLetter,
}

/// Key (under `{prefix}/{stream}/`) of an S3 API object landed whole: the bucket is part of
/// it, so two buckets routed to one stream stay apart, and so is a digest of its `body`, so
/// two uploads of one key with other bytes both land.
pub fn s3_object_key(bucket: &str, key: &str, body: &[u8]) -> String {
    let digest = hex::encode(&Sha256::digest(body)[..8]);
    format!("{PASS_THROUGH_DIR}/s3/{bucket}/{digest}/{key}")
}

/// Key (under `{prefix}/{stream}/`) of a FlowFile's content: named by the FlowFile's `uuid`
/// (the front door derives it from what the sender sent, so a retry finds its key again),
/// hour-partitioned by `received_at` (UTC), with the extension of its `filename`
/// when that is a plain one (1 to 10 ASCII letters or digits), so that a directory table
/// or a file format can tell the type.
pub fn flowfile_key(
    area: Area,
    received_at: DateTime<Utc>,
    uuid: &str,
    filename: Option<&str>,
) -> String {
    let dir = match area {
        Area::Http => format!("{PASS_THROUGH_DIR}/http"),
        Area::DeadLetter => DEAD_LETTER_DIR.to_owned(),
    };
    let ext = filename
        .and_then(|f| f.rsplit_once('.'))
        .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()))
        .filter(|(stem, ext)| {
            !stem.is_empty()
                && (1..=10).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .map(|(_, ext)| format!(".{ext}"))
        .unwrap_or_default();
    format!(
        "{dir}/{}/{uuid}{ext}",
        received_at.format("dt=%Y-%m-%d/hh=%H")
    )
}

/// The sidecar key of a content key.
pub fn sidecar_key(content_key: &str) -> String {
    format!("{content_key}{SIDECAR_SUFFIX}")
}

/// What a put is, for notification and counting.
#[derive(Clone, Copy)]
enum Role {
    /// An object standing alone (S3 API pass-through): notified and counted (metrics and
    /// the stream's status, as a landed file of no records).
    Whole,
    /// Content whose sidecar follows: counted, not notified.
    Content,
    /// A sidecar: notified (it is what a COPY loads), not counted as a landed file.
    Sidecar,
    /// A sidecar not notified (a dead letter's), not counted.
    Unnotified,
}

impl Landing {
    /// Pass-through: puts `body` unchanged to the sink under `{prefix}/{stream}/{key}` (the
    /// stream's prefix, if any) and resolves with that key once the object is in the sink,
    /// bypassing the spool. A retryable sink error is retried a few times with backoff, then
    /// returned as [`AppendError::Sink`] with `retryable: true`. With a Snowpipe notifier on
    /// the stream, the key is queued for `insertFiles` like a landed batch file.
    pub async fn put_whole(
        &self,
        stream: &str,
        key: &str,
        body: bytes::Bytes,
    ) -> Result<String, AppendError> {
        self.put_one(stream, key, body, Role::Whole).await
    }

    /// Puts a FlowFile's `content` under `{prefix}/{stream}/{key}`, then its `sidecar` under
    /// that key plus [`SIDECAR_SUFFIX`], each with [`Landing::put_whole`]'s retry, and
    /// resolves with the content's landed key once both are in the sink. With `notify` and a
    /// Snowpipe notifier on the stream, the sidecar (not the content) is queued for
    /// `insertFiles`; dead letters are not notified (the stream's pipe loads records).
    pub async fn put_with_sidecar(
        &self,
        stream: &str,
        key: &str,
        content: bytes::Bytes,
        sidecar: bytes::Bytes,
        notify: bool,
    ) -> Result<String, AppendError> {
        let landed = self.put_one(stream, key, content, Role::Content).await?;
        fail::fail_point!("passthrough-sidecar-put", |_| Err(AppendError::Sink {
            message: "injected: the sidecar put failed (failpoint passthrough-sidecar-put)".into(),
            retryable: true,
        }));
        let role = if notify {
            Role::Sidecar
        } else {
            Role::Unnotified
        };
        self.put_one(stream, &sidecar_key(key), sidecar, role)
            .await?;
        Ok(landed)
    }

    /// The key `key` of `stream` lands under: `{prefix}/{stream}/{key}`.
    pub fn landed_key(&self, stream: &str, key: &str) -> Result<String, AppendError> {
        let handle = self.stream(stream)?;
        Ok(match handle.config.prefix.as_str() {
            "" => format!("{stream}/{key}"),
            p => format!("{p}/{stream}/{key}"),
        })
    }

    async fn put_one(
        &self,
        stream: &str,
        key: &str,
        body: bytes::Bytes,
        role: Role,
    ) -> Result<String, AppendError> {
        let handle = self.stream(stream)?;
        if handle.closed() {
            return Err(AppendError::ShuttingDown);
        }
        let landed = self.landed_key(stream, key)?;
        sink::validate_key(&landed).map_err(|e| {
            AppendError::InvalidKey(format!(
                "object key {key:?} cannot be landed as is (pass-through): {e}"
            ))
        })?;
        // The Snowpipe queue holds one key per line, and Snowpipe takes no control characters.
        if key.chars().any(char::is_control) {
            return Err(AppendError::InvalidKey(format!(
                "object key {key:?} cannot be landed as is (pass-through): \
                 it contains a control character (newline, tab, …)"
            )));
        }
        let bytes = body.len() as u64;
        let policy = RetryPolicy::PUT_WHOLE;
        let mut failed = 0;
        loop {
            let same = |there: &[u8]| {
                matches!(role, Role::Sidecar | Role::Unnotified) && same_sidecar(there, &body)
            };
            let e = match sink::put_once(&*self.sink, &landed, body.clone(), same).await {
                Ok(sink::Once::Created | sink::Once::Same) => break,
                Ok(sink::Once::Collision(_)) => {
                    metrics::counter!(SINK_COLLISIONS_TOTAL, "stream" => stream.to_owned())
                        .increment(1);
                    tracing::error!(%stream, key = %landed,
                        "another object is stored under this pass-through key; it was left as it is and this one was refused");
                    return Err(AppendError::Sink {
                        message: format!("another object is already stored under {landed:?}"),
                        retryable: false,
                    });
                }
                Err(e) => e,
            };
            metrics::counter!(SINK_ERRORS_TOTAL, "stream" => stream.to_owned()).increment(1);
            let retryable = e.is_retryable();
            failed += 1;
            match policy.wait_after(failed) {
                Some(wait) if retryable => tokio::time::sleep(wait).await,
                _ => {
                    tracing::warn!(%stream, key = %landed, sink = %self.sink.describe(), error = %e,
                        attempt = failed, "pass-through object not landed");
                    return Err(AppendError::Sink {
                        message: e.to_string(),
                        retryable,
                    });
                }
            }
        }
        if matches!(role, Role::Whole | Role::Sidecar)
            && let Some(s) = &handle.snowpipe
        {
            s.hook.landed(stream, &landed).await;
        }
        if matches!(role, Role::Whole | Role::Content) {
            metrics::counter!(FILES_LANDED_TOTAL, "stream" => stream.to_owned()).increment(1);
            metrics::counter!(BYTES_LANDED_TOTAL, "stream" => stream.to_owned()).increment(bytes);
            // The status page, the last-landed gauge and the staleness monitor see it as a
            // landed file (of no records): a pass-through stream that stops landing alerts.
            handle.input.stats.landed(&landed, 0, bytes);
        }
        tracing::debug!(%stream, key = %landed, bytes, "pass-through object landed");
        Ok(landed)
    }
}

/// Whether the sidecar `there` describes the same content at the same key as `ours` (the
/// same FlowFile landed again: only its receive time differs).
fn same_sidecar(there: &[u8], ours: &[u8]) -> bool {
    let meta = |b: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(b).ok()?;
        let m = v.get("meta")?;
        Some((m.get("key")?.clone(), m.get("sha256")?.clone()))
    };
    meta(there).is_some_and(|t| Some(t) == meta(ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T13:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let u = "6f1c2a8e-1b7d-4a57-9d7e-2f0d9b1c3e44";
        assert_eq!(
            flowfile_key(Area::Http, at, u, Some("Report.PDF")),
            format!("_passthrough/http/dt=2026-11-24/hh=13/{u}.pdf")
        );
        assert_eq!(
            flowfile_key(Area::DeadLetter, at, u, Some("a.json")),
            format!("_dead_letter/dt=2026-11-24/hh=13/{u}.json")
        );
        // No extension, a hidden file's name, or one that is not plain: none in the key.
        for name in [
            None,
            Some("long"),
            Some(".bashrc"),
            Some("x.tar/gz"),
            Some("a.ünï"),
        ] {
            assert_eq!(
                flowfile_key(Area::Http, at, u, name),
                format!("_passthrough/http/dt=2026-11-24/hh=13/{u}"),
                "{name:?}"
            );
        }
        // The digest is the first 8 bytes of SHA-256("%PDF").
        assert_eq!(
            s3_object_key("files", "in/a.pdf", b"%PDF"),
            format!(
                "_passthrough/s3/files/{}/in/a.pdf",
                &hex::encode(Sha256::digest(b"%PDF"))[..16]
            )
        );
        assert_ne!(
            s3_object_key("files", "in/a.pdf", b"%PDF"),
            s3_object_key("files", "in/a.pdf", b"%PDF-")
        );
        assert_eq!(sidecar_key("k/x.pdf"), "k/x.pdf.attributes.json");
    }
}
