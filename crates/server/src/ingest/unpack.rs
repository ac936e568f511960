//! A request body's FlowFiles as the body is decoded: one for a raw body, one per FlowFile of
//! a package (with the limits on their count and on what they expand to), handed to a
//! [`FlowFiles`] consumer event by event, so that a consumer may keep them whole
//! ([`Collect`]) or parse them as they stream in (`super::streamed`).

use bytes::BytesMut;

use crate::error::ApiError;
use crate::received::Received;

use super::BodySpec;

/// Bytes counted against the request limit for each FlowFile of a package on top of its
/// bytes on the wire: its bookkeeping in memory and the attributes the front door adds
/// (uuid, source address, request URI…), so that many empty FlowFiles cost what they take.
const FLOWFILE_OVERHEAD: u64 = 512;

/// What takes a body's FlowFiles, in order: `begin` (the FlowFile's own attributes: none
/// for a raw body), its content in pieces, `end`.
pub(crate) trait FlowFiles {
    fn begin(
        &mut self,
        attributes: Vec<(String, String)>,
        content_len: u64,
    ) -> Result<(), ApiError>;
    fn content(&mut self, bytes: &[u8]) -> Result<(), ApiError>;
    fn end(&mut self) -> Result<(), ApiError>;
}

/// Keeps every FlowFile whole, for a parse once the body is read.
#[derive(Default)]
pub(crate) struct Collect {
    pub done: Vec<Received>,
    current: Option<Received>,
}

impl FlowFiles for Collect {
    fn begin(
        &mut self,
        attributes: Vec<(String, String)>,
        content_len: u64,
    ) -> Result<(), ApiError> {
        self.current = Some(Received {
            attributes,
            content: Vec::with_capacity(content_len.min(1 << 20) as usize),
            filename_made_here: false,
        });
        Ok(())
    }

    fn content(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        if let Some(c) = self.current.as_mut() {
            c.content.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ApiError> {
        self.done.extend(self.current.take());
        Ok(())
    }
}

/// The body's decoder: raw content, or a FlowFile package.
pub(crate) enum Unpack {
    Raw {
        begun: bool,
    },
    Package {
        decoder: Box<flowfile::Decoder>,
        buf: BytesMut,
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
    pub fn new(spec: &BodySpec) -> Self {
        match spec.package {
            None => Unpack::Raw { begun: false },
            Some(v) => {
                let limits = flowfile::Limits {
                    max_attribute_bytes: u32::try_from(spec.max_attribute_bytes)
                        .unwrap_or(u32::MAX),
                    ..flowfile::Limits::default()
                };
                Unpack::Package {
                    decoder: Box::new(flowfile::Decoder::new(v, limits)),
                    buf: BytesMut::new(),
                    flowfiles: 0,
                    max_flowfiles: spec.max_flowfiles,
                    overhead: 0,
                    wire: 0,
                    max_bytes: spec.max_bytes,
                }
            }
        }
    }

    /// Decodes the next `data` of the (decompressed) body into `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FlowFiles) -> Result<(), ApiError> {
        match self {
            Unpack::Raw { begun } => {
                if !*begun {
                    *begun = true;
                    out.begin(Vec::new(), 0)?;
                }
                out.content(data)
            }
            Unpack::Package {
                decoder,
                buf,
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
                            out.begin(h.attributes, h.content_len)?;
                        }
                        flowfile::Event::Content(b) => out.content(&b)?,
                        flowfile::Event::End => out.end()?,
                    }
                }
                Ok(())
            }
        }
    }

    /// The body ended: a raw body is one FlowFile even when empty; a package must end
    /// between FlowFiles.
    pub fn finish(self, out: &mut impl FlowFiles) -> Result<(), ApiError> {
        match self {
            Unpack::Raw { begun } => {
                if !begun {
                    out.begin(Vec::new(), 0)?;
                }
                out.end()
            }
            Unpack::Package { decoder, buf, .. } => {
                decoder.finish(&buf).map_err(package_err)?;
                Ok(())
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
