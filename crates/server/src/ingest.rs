//! Request body → records: streams the body through gzip and the FlowFile decoder chunk by
//! chunk, then parses each FlowFile's content into records, all-or-nothing.

use std::io::Write;

use axum::body::Body;
use bytes::BytesMut;
use flate2::write::MultiGzDecoder;
use futures::StreamExt;

use crate::error::ApiError;
use records::Format;

/// Compressed bytes fed to the gzip decoder at a time (at most ~1 MiB of output each).
const GZIP_SLICE: usize = 1024;

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
    let mut gz = spec.gzip.then(|| MultiGzDecoder::new(Vec::new()));
    let mut sink = Unpack::new(spec.package);
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
        match gz.as_mut() {
            Some(gz) => {
                // Small slices keep a gzip bomb from inflating far past the limit before
                // the size check sees it.
                for piece in chunk.chunks(GZIP_SLICE) {
                    gz.write_all(piece).map_err(gzip_err)?;
                    let out = std::mem::take(gz.get_mut());
                    total += out.len() as u64;
                    check_size(total, spec.max_bytes)?;
                    sink.feed(&out)?;
                }
            }
            None => {
                total += chunk.len() as u64;
                check_size(total, spec.max_bytes)?;
                sink.feed(&chunk)?;
            }
        }
    }
    if let Some(gz) = gz {
        let rest = gz.finish().map_err(gzip_err)?;
        total += rest.len() as u64;
        check_size(total, spec.max_bytes)?;
        sink.feed(&rest)?;
    }
    sink.finish()
}

fn gzip_err(e: std::io::Error) -> ApiError {
    ApiError::BadRequest(format!("body is not valid gzip: {e}"))
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

/// Parses every FlowFile's content into `batch`, each FlowFile a group carrying its
/// attributes. The format comes from the FlowFile's `mime.type`, else `fallback`.
pub(crate) fn parse_into(
    flowfiles: &[Received],
    fallback: Format,
    packaged: bool,
    batch: &mut records::Batch,
) -> Result<(), ApiError> {
    for (i, ff) in flowfiles.iter().enumerate() {
        let format = ff
            .attributes
            .iter()
            .find(|(k, _)| k == "mime.type")
            .and_then(|(_, v)| Format::from_mime(v))
            .unwrap_or(fallback);
        let mut started = false;
        records::parse(&ff.content, format, &mut |rec: &[u8]| {
            if !started {
                batch.begin_group(&ff.attributes);
                started = true;
            }
            batch.push_record(rec);
        })
        .map_err(|e| {
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
    }
    Ok(())
}
