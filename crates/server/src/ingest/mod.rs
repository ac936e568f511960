//! Request body → records: streams the body through the capped gunzip and the FlowFile
//! decoder chunk by chunk, then parses each FlowFile's content into records, all-or-nothing.
//!
//! Also what both front doors (HTTP and S3) share about parsing: where a parse runs
//! ([`parse_off_runtime`]).

use axum::body::Body;
use futures::StreamExt;
use records::{Batch, Format, Gunzip};

use crate::error::ApiError;
use crate::received::Received;
use unpack::{Collect, FlowFiles, Unpack};

mod streamed;
mod unpack;

pub(crate) use streamed::{Request, receive_in_parts};

/// Content up to this size is parsed on the request's own task.
const INLINE_PARSE_BYTES: u64 = 64 * 1024;

/// Runs `parse` for `content_bytes` of content: inline when small (the single-record case
/// parses in microseconds, cheaper than a hop to the blocking pool), else on the blocking
/// pool so that large ones do not stall the async workers.
pub(crate) async fn parse_off_runtime<T: Send + 'static>(
    content_bytes: u64,
    parse: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if content_bytes <= INLINE_PARSE_BYTES {
        Ok(parse())
    } else {
        tokio::task::spawn_blocking(parse).await
    }
}

/// How to read one request body.
pub(crate) struct BodySpec {
    pub gzip: bool,
    pub package: Option<flowfile::Version>,
    pub max_bytes: u64,
    /// Most FlowFiles in one package.
    pub max_flowfiles: u64,
    /// Most attribute bytes (keys plus values) of one FlowFile.
    pub max_attribute_bytes: u64,
    /// The stream's landed-line form, which decides what counts against `max_bytes`.
    pub envelope: records::landed::Envelope,
}

/// Reads the whole body into FlowFiles (one for a raw body), enforcing the size limit on the
/// decompressed bytes. The FlowFile decoder sees the body incrementally.
///
/// The bytes kept (after decompression) are reserved in `budget` as they arrive, chunk by
/// chunk; over the body budget the request is refused with 503 and nothing of it is kept.
pub(crate) async fn read_flowfiles(
    body: Body,
    spec: &BodySpec,
    budget: &mut crate::budget::Reservation,
) -> Result<Vec<Received>, ApiError> {
    let declared = axum::body::HttpBody::size_hint(&body).exact();
    let mut reader = BodyReader::new(body, spec);
    if let Err(over) = budget.prepay(declared, spec.max_bytes).await {
        return Err(reader.refuse(over).await);
    }
    let mut out = Collect::default();
    while let Some(fed) = reader.next(&mut out).await? {
        if let Err(over) = budget.take(fed).await {
            drop(out);
            return Err(reader.refuse(over).await);
        }
    }
    reader.finish(&mut out)?;
    Ok(out.done)
}

/// A request body read chunk by chunk: through the capped gunzip when gzip'd, into the
/// FlowFile decoder, whose FlowFiles go to the caller's [`FlowFiles`].
pub(crate) struct BodyReader {
    stream: axum::body::BodyDataStream,
    gz: Option<Gunzip>,
    unpack: Unpack,
    /// Bytes read (not gzip'd) so far, and the most allowed.
    total: u64,
    max_bytes: u64,
}

impl BodyReader {
    pub fn new(body: Body, spec: &BodySpec) -> Self {
        BodyReader {
            stream: body.into_data_stream(),
            gz: spec.gzip.then(|| Gunzip::new(spec.max_bytes)),
            unpack: Unpack::new(spec),
            total: 0,
            max_bytes: spec.max_bytes,
        }
    }

    /// Decodes the next chunk of the body into `out`; returns how many (decompressed) bytes
    /// it fed, `None` at the end of the body.
    pub async fn next(&mut self, out: &mut impl FlowFiles) -> Result<Option<usize>, ApiError> {
        let Some(chunk) = self.stream.next().await else {
            return Ok(None);
        };
        let chunk = chunk.map_err(body_error)?;
        let unpack = &mut self.unpack;
        let mut fed = 0;
        let mut feed = |data: &[u8]| {
            fed += data.len();
            unpack.feed(data, out)
        };
        match self.gz.as_mut() {
            Some(gz) => gz.write(&chunk, &mut feed)?,
            None => {
                self.total += chunk.len() as u64;
                if self.total > self.max_bytes {
                    return Err(ApiError::TooLarge(self.max_bytes));
                }
                feed(&chunk)?;
            }
        }
        Ok(Some(fed))
    }

    /// The body ended: hands `out` what the decoders still hold.
    pub fn finish(mut self, out: &mut impl FlowFiles) -> Result<(), ApiError> {
        let unpack = &mut self.unpack;
        if let Some(gz) = self.gz.take() {
            gz.finish(&mut |data: &[u8]| unpack.feed(data, out))?;
        }
        self.unpack.finish(out)
    }

    /// Refuses the request for the body budget: reads what is left of the body (so that the
    /// client gets the answer, not a reset) and returns the 503.
    pub async fn refuse(mut self, over: crate::budget::OverBudget) -> ApiError {
        crate::budget::drain(&mut self.stream, self.max_bytes).await;
        ApiError::over_budget(over)
    }
}

/// Parses every FlowFile's content into one batch, each FlowFile a group carrying its
/// attributes: all records or an error naming the FlowFile and the line. The format comes
/// from the FlowFile's `mime.type`, else `fallback`.
///
/// The batch may expand (records, with their FlowFile's attributes on every landed line) to
/// `limits.max_bytes` at most, and each FlowFile carry `limits.max_attribute_bytes` of
/// attributes: parsing stops with a 413 at the first record past either.
pub(crate) async fn parse_flowfiles(
    flowfiles: Vec<Received>,
    fallback: Format,
    packaged: bool,
    limits: &BodySpec,
) -> Result<Batch, ApiError> {
    let bytes = flowfiles.iter().map(|f| f.content.len() as u64).sum();
    let (max_bytes, max_attrs) = (limits.max_bytes, limits.max_attribute_bytes);
    let envelope = limits.envelope;
    let parse = move || {
        let mut batch = Batch::for_request(envelope, max_bytes);
        parse_into(flowfiles, fallback, packaged, max_attrs, &mut batch).map(|()| batch)
    };
    parse_off_runtime(bytes, parse)
        .await
        .map_err(|e| ApiError::Internal(format!("record parser failed: {e}")))?
}

fn parse_into(
    flowfiles: Vec<Received>,
    fallback: Format,
    packaged: bool,
    max_attribute_bytes: u64,
    batch: &mut Batch,
) -> Result<(), ApiError> {
    for (i, ff) in flowfiles.into_iter().enumerate() {
        parse_flowfile(&ff, i, fallback, packaged, max_attribute_bytes, batch)?;
        // The content is in the batch now; free it before the next one is parsed.
        drop(ff);
    }
    Ok(())
}

/// Parses FlowFile `i` (0-based) into `batch`: 413 when its attributes pass
/// `max_attribute_bytes` or the batch its limit, 400 naming the FlowFile and the line when its
/// content does not parse (the batch may then hold some of its records).
pub(crate) fn parse_flowfile(
    ff: &Received,
    i: usize,
    fallback: Format,
    packaged: bool,
    max_attribute_bytes: u64,
    batch: &mut Batch,
) -> Result<(), ApiError> {
    let which = || describe(&ff.attributes, i, packaged);
    check_attributes(&ff.attributes, max_attribute_bytes, which)?;
    let format = format_of(&ff.attributes, fallback);
    records::fill_batch(batch, &ff.attributes, &ff.content, format)
        .map_err(|e| fill_error(e, format, which))?;
    Ok(())
}

/// How errors name FlowFile `i` (0-based) of a request: a form's part, a packaged FlowFile
/// (with its filename), or the body.
fn describe(attributes: &[(String, String)], i: usize, packaged: bool) -> String {
    let attr = |key: &str| attributes.iter().find(|(k, _)| k == key);
    if let Some((_, part)) = attr("http.multipart.name") {
        return format!("form part {} ({part:?})", i + 1);
    }
    let name = attr("filename")
        .map(|(_, v)| format!(" {v:?}"))
        .unwrap_or_default();
    if packaged {
        format!("FlowFile {}{name}", i + 1)
    } else {
        "body".to_owned()
    }
}

/// 413 when a FlowFile's attributes (with the request's) pass `max_attribute_bytes`.
fn check_attributes(
    attributes: &[(String, String)],
    max_attribute_bytes: u64,
    which: impl Fn() -> String,
) -> Result<(), ApiError> {
    let attr_bytes: u64 = attributes
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    if attr_bytes > max_attribute_bytes {
        return Err(ApiError::OverLimit(format!(
            "the attributes of {} (with the request's headers) are {attr_bytes} bytes, \
             over the {max_attribute_bytes}-byte limit (--max-attribute-bytes)",
            which()
        )));
    }
    Ok(())
}

/// A FlowFile's record format: its `mime.type`, a form part's file name, else `fallback`.
fn format_of(attributes: &[(String, String)], fallback: Format) -> Format {
    attributes
        .iter()
        .find(|(k, _)| k == "mime.type")
        .and_then(|(_, v)| Format::from_mime(v))
        .or_else(|| crate::multipart::part_format(attributes))
        .unwrap_or(fallback)
}

/// The answer to a FlowFile whose records do not fit (413) or do not parse (400).
fn fill_error(e: records::FillError, format: Format, which: impl Fn() -> String) -> ApiError {
    match e {
        records::FillError::TooLarge(e) => ApiError::OverLimit(format!(
            "{e} (--max-request-size, {} bytes; stopped at {})",
            e.limit,
            which()
        )),
        records::FillError::Parse(e) => {
            ApiError::BadRequest(format!("{} is not valid {}: {e}", which(), format.name()))
        }
    }
}

/// A body that stalled past the body read timeout is the client's slowness (408); any other
/// read error is a broken request (400). Nothing of the request is kept either way.
fn body_error(e: axum::Error) -> ApiError {
    let inner = e.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(err) = source {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::Timeout;
        }
        source = err.source();
    }
    ApiError::BadRequest(format!("could not read the request body: {inner}"))
}
