//! Request body → records: streams the body through the capped gunzip and the FlowFile
//! decoder chunk by chunk, then parses each FlowFile's content into records, all-or-nothing.
//!
//! Also what both front doors (HTTP and S3) share about parsing: where a parse runs
//! ([`parse_off_runtime`]).

use axum::body::Body;
use bytes::BytesMut;
use futures::StreamExt;
use records::{Batch, Format, Gunzip};

use crate::error::ApiError;
use crate::received::Received;

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

/// Bytes counted against the request limit for each FlowFile of a package on top of its
/// bytes on the wire: its bookkeeping in memory and the attributes the front door adds
/// (uuid, source address, request URI…), so that many empty FlowFiles cost what they take.
const FLOWFILE_OVERHEAD: u64 = 512;

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
    if let Err(over) = budget.prepay(declared, spec.max_bytes).await {
        let mut stream = body.into_data_stream();
        crate::budget::drain(&mut stream, spec.max_bytes).await;
        return Err(ApiError::over_budget(over));
    }
    let mut stream = body.into_data_stream();
    let mut gz = spec.gzip.then(|| Gunzip::new(spec.max_bytes));
    let mut sink = Unpack::new(spec);
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_error)?;
        let mut fed = 0;
        let mut feed = |data: &[u8]| {
            fed += data.len();
            sink.feed(data)
        };
        match gz.as_mut() {
            Some(gz) => gz.write(&chunk, &mut feed)?,
            None => {
                total += chunk.len() as u64;
                check_size(total, spec.max_bytes)?;
                feed(&chunk)?;
            }
        }
        if let Err(over) = budget.take(fed).await {
            drop(sink);
            crate::budget::drain(&mut stream, spec.max_bytes).await;
            return Err(ApiError::over_budget(over));
        }
    }
    if let Some(gz) = gz {
        gz.finish(&mut |data: &[u8]| sink.feed(data))?;
    }
    sink.finish()
}

fn check_size(total: u64, max: u64) -> Result<(), ApiError> {
    if total > max {
        Err(ApiError::TooLarge(max))
    } else {
        Ok(())
    }
}

enum Unpack {
    Raw(Vec<u8>),
    Package {
        decoder: Box<flowfile::Decoder>,
        buf: BytesMut,
        current: Option<Received>,
        done: Vec<Received>,
        /// FlowFiles begun so far, and the most allowed.
        flowfiles: u64,
        max_flowfiles: u64,
        /// Per-FlowFile overhead counted so far, and the request limit it counts against
        /// (with the body bytes).
        overhead: u64,
        wire: u64,
        max_bytes: u64,
    },
}

impl Unpack {
    fn new(spec: &BodySpec) -> Self {
        match spec.package {
            None => Unpack::Raw(Vec::new()),
            Some(v) => {
                let limits = flowfile::Limits {
                    max_attribute_bytes: u32::try_from(spec.max_attribute_bytes)
                        .unwrap_or(u32::MAX),
                    ..flowfile::Limits::default()
                };
                Unpack::Package {
                    decoder: Box::new(flowfile::Decoder::new(v, limits)),
                    buf: BytesMut::new(),
                    current: None,
                    done: Vec::new(),
                    flowfiles: 0,
                    max_flowfiles: spec.max_flowfiles,
                    overhead: 0,
                    wire: 0,
                    max_bytes: spec.max_bytes,
                }
            }
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<(), ApiError> {
        match self {
            Unpack::Raw(content) => content.extend_from_slice(data),
            Unpack::Package {
                decoder,
                buf,
                current,
                done,
                flowfiles,
                max_flowfiles,
                overhead,
                wire,
                max_bytes,
            } => {
                buf.extend_from_slice(data);
                *wire += data.len() as u64;
                while let Some(event) = decoder.decode(buf).map_err(package_err)? {
                    match event {
                        flowfile::Event::Header(h) => {
                            *flowfiles += 1;
                            if *flowfiles > *max_flowfiles {
                                return Err(ApiError::OverLimit(format!(
                                    "the request carries over {max_flowfiles} FlowFiles \
                                     (--max-flowfiles-per-request); send them in smaller batches"
                                )));
                            }
                            *overhead += FLOWFILE_OVERHEAD;
                            if *wire + *overhead > *max_bytes {
                                return Err(ApiError::OverLimit(format!(
                                    "the request's {flowfiles} FlowFiles with {wire} bytes \
                                     expand to over the {max_bytes}-byte limit \
                                     (--max-request-size; each FlowFile counts \
                                     {FLOWFILE_OVERHEAD} bytes more)"
                                )));
                            }
                            *current = Some(Received {
                                attributes: h.attributes,
                                content: Vec::with_capacity(h.content_len.min(1 << 20) as usize),
                                filename_made_here: false,
                            });
                        }
                        flowfile::Event::Content(b) => {
                            if let Some(c) = current.as_mut() {
                                c.content.extend_from_slice(&b);
                            }
                        }
                        flowfile::Event::End => done.extend(current.take()),
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Received>, ApiError> {
        match self {
            Unpack::Raw(content) => Ok(vec![Received {
                attributes: Vec::new(),
                content,
                filename_made_here: false,
            }]),
            Unpack::Package {
                decoder, buf, done, ..
            } => {
                decoder.finish(&buf).map_err(package_err)?;
                Ok(done)
            }
        }
    }
}

fn package_err(e: flowfile::DecodeError) -> ApiError {
    match e {
        flowfile::DecodeError::AttributesTooLarge { .. } => ApiError::OverLimit(format!(
            "{e} (--max-attribute-bytes); nothing of the request was kept"
        )),
        _ => ApiError::BadRequest(format!("invalid FlowFile package: {e}")),
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
    let which = || {
        let attr = |key: &str| ff.attributes.iter().find(|(k, _)| k == key);
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
    };
    let attr_bytes: u64 = ff
        .attributes
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
    let format = ff
        .attributes
        .iter()
        .find(|(k, _)| k == "mime.type")
        .and_then(|(_, v)| Format::from_mime(v))
        .or_else(|| crate::multipart::part_format(&ff.attributes))
        .unwrap_or(fallback);
    records::fill_batch(batch, &ff.attributes, &ff.content, format).map_err(|e| match e {
        records::FillError::TooLarge(e) => ApiError::OverLimit(format!(
            "{e} (--max-request-size, {} bytes; stopped at {})",
            e.limit,
            which()
        )),
        records::FillError::Parse(e) => {
            ApiError::BadRequest(format!("{} is not valid {}: {e}", which(), format.name()))
        }
    })?;
    Ok(())
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
