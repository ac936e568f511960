//! A request received in parts: its records are parsed as the body arrives and go to the
//! spool a part (~[`PART_BYTES`]) at a time, then are appended as one atomic run and
//! acknowledged once durable, so a body of any size is never held whole, nor are its records
//! ([`landing::PartsAppend`]). NDJSON and CSV content is cut into chunks of whole records
//! ([`crate::cut`]) and parsed chunk by chunk; other content (a JSON document) is one
//! FlowFile's whole, parsed when the FlowFile ends and counted against the body budget until
//! then.

use axum::body::Body;
use records::{Batch, Format};

use super::unpack::FlowFiles;
use super::{BodyReader, BodySpec, check_attributes, describe, fill_error, format_of};
use crate::attrs::{BodyKind, Prepared, RequestInfo};
use crate::cut::{self, Chunk, Cutter};
use crate::error::ApiError;
use crate::received::Received;

/// Packed bytes of records per part handed to the spool (the last record may take it a
/// little past): the S3 door's chunk size (`s3::chunked::CHUNK_BYTES`), for the same reason.
const PART_BYTES: usize = 4 << 20;

/// Bytes of content parsed at a time, on the request's own task: about 100 µs of parsing
/// between two reads of the body.
const CUT_BYTES: usize = 64 << 10;

/// Reserved in the body budget for a request received in parts: the part being filled and
/// the content being cut (content held whole is taken as it arrives).
const HELD_BYTES: u64 = (PART_BYTES + 2 * CUT_BYTES) as u64;

/// How one request received in parts turned out.
pub(crate) struct InParts {
    pub receipt: landing::Receipt,
    /// Content bytes (decompressed) and records received.
    pub bytes: u64,
    pub records: u64,
}

/// What a request's FlowFiles are, for [`receive_in_parts`].
pub(crate) struct Request<'a> {
    pub stream: &'a str,
    pub info: RequestInfo<'a>,
    pub kind: BodyKind<'a>,
    /// Format of content whose FlowFile does not say.
    pub fallback: Format,
}

/// Reads `body` and appends its records in parts (see the module doc); all of them or none,
/// answered like a whole append.
pub(crate) async fn receive_in_parts(
    landing: &landing::Landing,
    request: Request<'_>,
    body: Body,
    spec: &BodySpec,
    budget: &mut crate::budget::Reservation,
    retry_after_secs: u32,
) -> Result<InParts, ApiError> {
    let declared = axum::body::HttpBody::size_hint(&body).exact();
    let mut reader = BodyReader::new(body, spec);
    let held = declared.unwrap_or(HELD_BYTES).min(HELD_BYTES);
    if let Err(over) = budget.prepay(Some(held), spec.max_bytes).await {
        return Err(reader.refuse(over).await);
    }
    let append_err = |e| ApiError::from_append(e, retry_after_secs);
    let mut append = landing.begin_parts(request.stream).map_err(append_err)?;
    let mut out = Parser::new(request, spec);
    while reader.next(&mut out).await?.is_some() {
        budget.give_back(std::mem::take(&mut out.freed_whole));
        let whole = std::mem::take(&mut out.held_whole);
        if whole > 0
            && let Err(over) = budget.take(whole).await
        {
            return Err(reader.refuse(over).await);
        }
        hand_on(&mut out.ready, &mut append)
            .await
            .map_err(append_err)?;
    }
    reader.finish(&mut out)?;
    hand_on(&mut out.ready, &mut append)
        .await
        .map_err(append_err)?;
    let records = append.records() + out.batch.records();
    let receipt = append.commit(out.batch).await.map_err(append_err)?;
    Ok(InParts {
        receipt,
        bytes: out.bytes,
        records,
    })
}

/// Pushes the full parts to the spool's temporary file, in order.
async fn hand_on(
    ready: &mut Vec<Batch>,
    append: &mut landing::PartsAppend,
) -> Result<(), landing::AppendError> {
    for part in ready.drain(..) {
        append.push(part).await?;
    }
    Ok(())
}

/// Parses FlowFiles as they stream in, into parts of a request's batch.
struct Parser {
    /// What the request gives each FlowFile's attributes.
    attrs: Prepared,
    /// Format of content whose FlowFile does not say.
    fallback: Format,
    packaged: bool,
    max_attribute_bytes: u64,
    max_bytes: u64,
    /// The part being filled, and the full ones not yet handed on.
    batch: Batch,
    ready: Vec<Batch>,
    /// FlowFiles begun so far.
    flowfiles: usize,
    current: Option<Current>,
    /// Content bytes seen, those kept whole since the budget last took them, and those of
    /// FlowFiles kept whole, parsed and dropped since the budget last had them back.
    bytes: u64,
    held_whole: usize,
    freed_whole: usize,
}

/// The FlowFile being parsed.
struct Current {
    /// Its place in the request, from 0 (error messages name it).
    index: usize,
    attributes: Vec<(String, String)>,
    format: Format,
    /// Its records so far (error messages count them from its start).
    records: u64,
    /// Taken out while it is fed (the parse borrows the rest of the FlowFile).
    content: Option<Content>,
}

enum Content {
    Cut(Cutter),
    Whole(Vec<u8>),
}

impl Parser {
    fn new(request: Request<'_>, spec: &BodySpec) -> Self {
        Parser {
            attrs: request.info.prepare(request.kind),
            fallback: request.fallback,
            packaged: spec.package.is_some(),
            max_attribute_bytes: spec.max_attribute_bytes,
            max_bytes: spec.max_bytes,
            batch: Batch::for_request(spec.envelope, spec.max_bytes),
            ready: Vec::new(),
            flowfiles: 0,
            current: None,
            bytes: 0,
            held_whole: 0,
            freed_whole: 0,
        }
    }
}

/// Where parsed records go: the part being filled, the full ones; the request's limit, and
/// whether its FlowFiles are packaged (how errors name them).
struct Parts<'p> {
    batch: &'p mut Batch,
    ready: &'p mut Vec<Batch>,
    max_bytes: u64,
    packaged: bool,
}

impl Parts<'_> {
    /// Parses `chunk` of FlowFile `ff` into the part being filled; a full part goes to
    /// `ready`.
    fn fill(&mut self, ff: &mut Current, chunk: &Chunk<'_>) -> Result<(), ApiError> {
        let added =
            cut::fill(self.batch, chunk, ff.format, &ff.attributes, ff.records).map_err(|e| {
                // A later part's limit is what the earlier ones left: name the request's.
                let e = match e {
                    records::FillError::TooLarge(_) => {
                        records::FillError::TooLarge(records::batch::TooLarge {
                            limit: self.max_bytes,
                        })
                    }
                    e => e,
                };
                fill_error(e, ff.format, || {
                    describe(&ff.attributes, ff.index, self.packaged)
                })
            })?;
        ff.records += added;
        if self.batch.packed_len() >= PART_BYTES {
            self.ready.push(self.batch.take_part());
        }
        Ok(())
    }
}

impl FlowFiles for Parser {
    fn begin(
        &mut self,
        attributes: Vec<(String, String)>,
        _content_len: u64,
    ) -> Result<(), ApiError> {
        self.flowfiles += 1;
        let mut ff = Received {
            attributes,
            content: Vec::new(),
            filename_made_here: false,
        };
        self.attrs.apply(&mut ff, false);
        let attributes = ff.attributes;
        let index = self.flowfiles - 1;
        check_attributes(&attributes, self.max_attribute_bytes, || {
            describe(&attributes, index, self.packaged)
        })?;
        let format = format_of(&attributes, self.fallback);
        let content = match cut::splits(format) {
            true => Some(Content::Cut(Cutter::new(format, CUT_BYTES))),
            false => Some(Content::Whole(Vec::new())),
        };
        self.current = Some(Current {
            index,
            attributes,
            format,
            records: 0,
            content,
        });
        Ok(())
    }

    fn content(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.bytes += bytes.len() as u64;
        let Some(ff) = self.current.as_mut() else {
            return Ok(());
        };
        let mut content = ff.content.take();
        let done = match &mut content {
            Some(Content::Whole(v)) => {
                v.extend_from_slice(bytes);
                self.held_whole += bytes.len();
                Ok(())
            }
            Some(Content::Cut(cutter)) => {
                let mut parts = Parts {
                    batch: &mut self.batch,
                    ready: &mut self.ready,
                    max_bytes: self.max_bytes,
                    packaged: self.packaged,
                };
                cutter.push(bytes, &mut |chunk| parts.fill(ff, &chunk))
            }
            None => Ok(()),
        };
        ff.content = content;
        done
    }

    fn end(&mut self) -> Result<(), ApiError> {
        let Some(mut ff) = self.current.take() else {
            return Ok(());
        };
        let mut parts = Parts {
            batch: &mut self.batch,
            ready: &mut self.ready,
            max_bytes: self.max_bytes,
            packaged: self.packaged,
        };
        match ff.content.take() {
            Some(Content::Cut(cutter)) => cutter.finish(&mut |chunk| parts.fill(&mut ff, &chunk)),
            Some(Content::Whole(v)) => {
                let chunk = Chunk {
                    index: 0,
                    content: &v,
                    lines_before: 0,
                    header_lines: 0,
                };
                let filled = parts.fill(&mut ff, &chunk);
                self.freed_whole += v.len();
                filled
            }
            None => Ok(()),
        }
    }
}
