//! Request body → records: streams the body through the capped gunzip and the FlowFile
//! decoder chunk by chunk, then parses each FlowFile's content into records, all-or-nothing.
//!
//! Also what both front doors (HTTP and S3) share about receiving: where a parse runs
//! ([`parse_off_runtime`]) and how an attribute is set ([`set_attr`]).

use axum::body::Body;
use bytes::BytesMut;
use futures::StreamExt;
use records::{Batch, Format, Gunzip};

use crate::error::ApiError;

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

/// Sets attribute `key` to `value`, replacing its value if it is already there.
pub(crate) fn set_attr(attrs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match attrs.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value.to_owned(),
        None => attrs.push((key.to_owned(), value.to_owned())),
    }
}

/// One FlowFile as received: its attributes and content.
pub(crate) struct Received {
    pub attributes: Vec<(String, String)>,
    pub content: Vec<u8>,
}

/// How to read one request body.
pub(crate) struct BodySpec {
    pub gzip: bool,
    pub package: Option<flowfile::Version>,
    pub max_bytes: u64,
}

/// Reads the whole body into FlowFiles (one for a raw body), enforcing the size limit on the
/// decompressed bytes. The FlowFile decoder sees the body incrementally.
pub(crate) async fn read_flowfiles(body: Body, spec: &BodySpec) -> Result<Vec<Received>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut gz = spec.gzip.then(|| Gunzip::new(spec.max_bytes));
    let mut sink = Unpack::new(spec.package);
    let mut feed = |data: &[u8]| sink.feed(data);
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_error)?;
        match gz.as_mut() {
            Some(gz) => gz.write(&chunk, &mut feed)?,
            None => {
                total += chunk.len() as u64;
                check_size(total, spec.max_bytes)?;
                feed(&chunk)?;
            }
        }
    }
    if let Some(gz) = gz {
        gz.finish(&mut feed)?;
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
    },
}

impl Unpack {
    fn new(package: Option<flowfile::Version>) -> Self {
        match package {
            None => Unpack::Raw(Vec::new()),
            Some(v) => Unpack::Package {
                decoder: Box::new(flowfile::Decoder::new(v, flowfile::Limits::default())),
                buf: BytesMut::new(),
                current: None,
                done: Vec::new(),
            },
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
            } => {
                buf.extend_from_slice(data);
                while let Some(event) = decoder.decode(buf).map_err(package_err)? {
                    match event {
                        flowfile::Event::Header(h) => {
                            *current = Some(Received {
                                attributes: h.attributes,
                                content: Vec::with_capacity(h.content_len.min(1 << 20) as usize),
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
    ApiError::BadRequest(format!("invalid FlowFile package: {e}"))
}

/// Parses every FlowFile's content into one batch, each FlowFile a group carrying its
/// attributes: all records or an error naming the FlowFile and the line. The format comes
/// from the FlowFile's `mime.type`, else `fallback`.
pub(crate) async fn parse_flowfiles(
    flowfiles: Vec<Received>,
    fallback: Format,
    packaged: bool,
) -> Result<Batch, ApiError> {
    let bytes = flowfiles.iter().map(|f| f.content.len() as u64).sum();
    let parse = move || {
        let mut batch = Batch::new(chrono::Utc::now());
        parse_into(&flowfiles, fallback, packaged, &mut batch).map(|()| batch)
    };
    parse_off_runtime(bytes, parse)
        .await
        .map_err(|e| ApiError::Internal(format!("record parser failed: {e}")))?
}

fn parse_into(
    flowfiles: &[Received],
    fallback: Format,
    packaged: bool,
    batch: &mut Batch,
) -> Result<(), ApiError> {
    for (i, ff) in flowfiles.iter().enumerate() {
        parse_flowfile(ff, i, fallback, packaged, batch)?;
    }
    Ok(())
}

/// Parses FlowFile `i` (0-based) into `batch`; on error the batch may hold some of its
/// records, and the error names the FlowFile and the line.
pub(crate) fn parse_flowfile(
    ff: &Received,
    i: usize,
    fallback: Format,
    packaged: bool,
    batch: &mut Batch,
) -> Result<(), ApiError> {
    let format = ff
        .attributes
        .iter()
        .find(|(k, _)| k == "mime.type")
        .and_then(|(_, v)| Format::from_mime(v))
        .unwrap_or(fallback);
    records::fill_batch(batch, &ff.attributes, &ff.content, format).map_err(|e| {
        let name = ff
            .attributes
            .iter()
            .find(|(k, _)| k == "filename")
            .map(|(_, v)| format!(" {v:?}"))
            .unwrap_or_default();
        let which = if packaged {
            format!("FlowFile {}{name}", i + 1)
        } else {
            "body".to_owned()
        };
        ApiError::BadRequest(format!("{which} is not valid {}: {e}", format.name()))
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
