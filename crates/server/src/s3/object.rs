//! One object → records → the durable spool: the same capped gunzip, `records::fill_batch`
//! and `records::Batch` as the HTTP front door, with the object's key, bucket, user metadata and Content-Disposition
//! filename as the records' attributes.

use records::{Batch, Format};
use s3s::{S3Result, s3_error};

use super::error::{append_error, gzip_error, slow_down};
use crate::ServerConfig;
use crate::budget::{OverBudget, Reservation};
use crate::ingest::parse_off_runtime;
use crate::received::set_attr;

/// What the client said about an object, besides its bytes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    /// `x-amz-meta-*` user metadata, names without the prefix.
    pub metadata: Vec<(String, String)>,
}

impl ObjectInfo {
    pub(crate) fn gzipped(&self) -> bool {
        let by_encoding = self
            .content_encoding
            .as_deref()
            .is_some_and(|e| e.split(',').any(|t| t.trim().eq_ignore_ascii_case("gzip")));
        by_encoding || self.key.to_ascii_lowercase().ends_with(".gz")
    }

    /// Content type, else key extension, else the stream's default.
    pub(crate) fn format(&self, config: &ServerConfig, stream: &str) -> Format {
        self.content_type
            .as_deref()
            .and_then(Format::from_mime)
            .or_else(|| Format::from_extension(&self.key))
            .unwrap_or_else(|| config.default_format(stream))
    }

    pub(crate) fn attributes(&self, etag: &str) -> Vec<(String, String)> {
        let (dir, base) = match self.key.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b.to_owned()),
            None => ("./".to_owned(), self.key.clone()),
        };
        let mut attrs: Vec<(String, String)> = vec![
            ("filename".into(), base),
            ("path".into(), dir),
            ("uuid".into(), uuid::Uuid::new_v4().to_string()),
            ("s3.bucket".into(), self.bucket.clone()),
            ("s3.key".into(), self.key.clone()),
            ("s3.etag".into(), etag.to_owned()),
        ];
        if let Some(ct) = &self.content_type {
            attrs.push(("mime.type".into(), ct.clone()));
        }
        for (k, v) in &self.metadata {
            set_attr(&mut attrs, k, v);
        }
        if let Some(f) = self
            .content_disposition
            .as_deref()
            .and_then(disposition_filename)
        {
            set_attr(&mut attrs, "filename", &f);
        }
        attrs
    }
}

/// The file name in a Content-Disposition value (`filename*=UTF-8''…` or `filename="…"`),
/// or the whole value when it is a bare name. NiFi's PutS3Object sends the FlowFile's
/// `filename` form-URL-encoded (bare, or as `attachment; filename="…"`), so plain names are
/// form-decoded (`+` is a space, `%XX` a byte) to give back the attribute NiFi had.
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let v = v.rsplit("''").next().unwrap_or(v);
            return Some(percent_decode(v, false));
        }
        if let Some(v) = part.strip_prefix("filename=") {
            plain = Some(v.trim_matches('"').to_owned());
        }
    }
    if plain.is_none() {
        let v = value.trim();
        let is_type = ["inline", "attachment"]
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t));
        if !v.is_empty() && !is_type && !v.contains('=') {
            plain = Some(v.to_owned());
        }
    }
    plain
        .map(|p| percent_decode(&p, true))
        .filter(|p| !p.is_empty())
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if b[i] == b'%'
            && let Some(Ok(v)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(v);
            i += 3;
        } else if plus_is_space && b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's reservation in the memory budget, locked for the parse (its body stream,
/// which shared it, is done by then).
pub(crate) type HeldReservation = tokio::sync::OwnedMutexGuard<Reservation>;

/// Why a gzip object could not be inflated.
enum Inflate {
    Gzip(records::GunzipError),
    OverBudget(OverBudget),
}

impl From<records::GunzipError> for Inflate {
    fn from(e: records::GunzipError) -> Self {
        Inflate::Gzip(e)
    }
}

/// Inflates a gzip object (at most `max` bytes), counting what it inflates to against
/// `budget` as it goes: a small compressed body must not hold more memory than the budget
/// lets every body hold (a 248 KB gzip body of 250 MB of spaces).
fn inflate(body: &[u8], max: u64, mut budget: Option<HeldReservation>) -> S3Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut gz = records::Gunzip::new(max);
    let mut append = |piece: &[u8]| -> Result<(), Inflate> {
        if let Some(r) = budget.as_mut() {
            r.try_take(piece.len()).map_err(Inflate::OverBudget)?;
        }
        out.extend_from_slice(piece);
        Ok(())
    };
    let done = match gz.write(body, &mut append) {
        Ok(()) => gz.finish(&mut append).map(drop),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(out),
        Err(Inflate::Gzip(e)) => Err(gzip_error(e)),
        Err(Inflate::OverBudget(over)) => Err(slow_down(&over.to_string(), 1)),
    }
}

/// A gzip'd NDJSON or CSV object, inflated and parsed a chunk of whole records at a time, so
/// what it inflates to is never held whole (250 MB of blank lines from a 248 KB body took
/// 176 MiB of memory); the inflated bytes still count against `budget` as they come.
fn inflate_and_parse(
    body: &[u8],
    format: Format,
    attrs: &[(String, String)],
    (key, max, envelope): (&str, u64, records::landed::Envelope),
    mut budget: Option<HeldReservation>,
) -> S3Result<Batch> {
    use super::chunked;
    let mut batch = Batch::for_request(envelope, max);
    let mut source = [std::io::Cursor::new(body)];
    let mut records = 0;
    chunked::for_each_chunk(
        &mut source,
        true,
        max,
        format,
        chunked::CHUNK_BYTES,
        &mut |c| {
            if let Some(r) = budget.as_mut() {
                r.try_take(c.content.len())
                    .map_err(|over| slow_down(&over.to_string(), 1))?;
            }
            chunked::fill_chunk(&mut batch, &c, format, attrs, records, (key, max))?;
            records = batch.records();
            Ok(())
        },
    )?;
    Ok(batch)
}

/// Parses an object into a batch: all records or an error naming the line. A gzip object's
/// inflated bytes count against `budget` (the request's reservation), when given.
pub(crate) async fn parse_object(
    config: &ServerConfig,
    stream: &str,
    info: &ObjectInfo,
    body: Vec<u8>,
    etag: &str,
    budget: Option<HeldReservation>,
) -> S3Result<records::Batch> {
    let format = info.format(config, stream);
    let gzip = info.gzipped();
    let attrs = info.attributes(etag);
    let key = info.key.clone();
    let max = config.max_request_bytes;
    let envelope = config.envelope(stream);
    let bytes = body.len() as u64;
    let parse = move || -> S3Result<Batch> {
        if gzip && crate::cut::splits(format) {
            return inflate_and_parse(&body, format, &attrs, (&key, max, envelope), budget);
        }
        let content = if gzip {
            inflate(&body, max, budget)?
        } else {
            body
        };
        let mut batch = Batch::for_request(envelope, max);
        records::fill_batch(&mut batch, &attrs, &content, format).map_err(|e| match e {
            records::FillError::TooLarge(e) => s3_error!(
                EntityTooLarge,
                "object {key:?}: {e} (--max-request-size); nothing of it was kept"
            ),
            records::FillError::Parse(e) => s3_error!(
                InvalidArgument,
                "object {key:?} is not valid {}: {e}; nothing of it was kept",
                format.name()
            ),
        })?;
        Ok(batch)
    };
    parse_off_runtime(bytes, parse)
        .await
        .map_err(|e| s3_error!(InternalError, "record parser failed: {e}"))?
}

/// Appends a parsed object; resolves once its records are durable (per the stream's ack mode).
pub(crate) async fn append(
    landing: &landing::Landing,
    config: &ServerConfig,
    stream: &str,
    batch: records::Batch,
    bytes: u64,
) -> S3Result<landing::Receipt> {
    let records = batch.records();
    let receipt = landing
        .append(stream, batch)
        .await
        .map_err(|e| append_error(e, config.retry_after_secs))?;
    metrics::counter!(landing::metric_names::BYTES_RECEIVED_TOTAL, "stream" => stream.to_owned())
        .increment(bytes);
    metrics::counter!(landing::metric_names::RECORDS_RECEIVED_TOTAL, "stream" => stream.to_owned())
        .increment(records);
    metrics::counter!(landing::metric_names::S3_OBJECTS_TOTAL, "stream" => stream.to_owned())
        .increment(1);
    Ok(receipt)
}

/// Pass-through: lands the object whole under `_passthrough/s3/{bucket}/{key}` of the
/// stream (its own namespace, apart from batch files and manifests, and one per bucket);
/// resolves once it is in the sink.
pub(crate) async fn land_whole(
    landing: &landing::Landing,
    config: &ServerConfig,
    stream: &str,
    info: &ObjectInfo,
    body: Vec<u8>,
) -> S3Result<String> {
    let bytes = body.len() as u64;
    let key = landing::passthrough::s3_object_key(&info.bucket, &info.key, &body);
    let landed = landing
        .put_whole(stream, &key, bytes::Bytes::from(body))
        .await
        .map_err(|e| append_error(e, config.retry_after_secs))?;
    metrics::counter!(landing::metric_names::BYTES_RECEIVED_TOTAL, "stream" => stream.to_owned())
        .increment(bytes);
    metrics::counter!(landing::metric_names::S3_OBJECTS_TOTAL, "stream" => stream.to_owned())
        .increment(1);
    Ok(landed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_filenames() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a%20b.csv\"").as_deref(),
            Some("a b.csv")
        );
        assert_eq!(
            disposition_filename("inline; filename*=UTF-8''caf%C3%A9.csv").as_deref(),
            Some("café.csv")
        );
        assert_eq!(
            disposition_filename("orders.csv").as_deref(),
            Some("orders.csv")
        );
        assert_eq!(disposition_filename("inline"), None);
    }

    #[test]
    fn format_from_type_then_extension_then_default() {
        let cfg = ServerConfig::default();
        let mut info = ObjectInfo {
            key: "a/b.csv.gz".into(),
            ..ObjectInfo::default()
        };
        assert_eq!(info.format(&cfg, "s"), Format::Csv);
        assert!(info.gzipped());
        info.content_type = Some("application/x-ndjson".into());
        assert_eq!(info.format(&cfg, "s"), Format::Ndjson);
        info.content_type = Some("binary/octet-stream".into());
        info.key = "blob".into();
        assert_eq!(info.format(&cfg, "s"), Format::Json);
        assert!(!info.gzipped());
    }
}
