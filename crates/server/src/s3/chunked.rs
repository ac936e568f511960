//! A multipart object read incrementally: its parts' files in order (inflated on the fly
//! when the object is gzip'd) cut into chunks of whole records ([`crate::cut`]), each about [`CHUNK_BYTES`],
//! so CompleteMultipartUpload parses and appends an object of any size in bounded memory.
//! Part boundaries are invisible: a record may straddle two parts. A CSV chunk after the
//! first starts with the object's header row, so each chunk parses on its own.
//!
//! Only NDJSON and CSV split: a JSON object is one document (or an array) that parses whole,
//! so it is read whole, within `--max-request-size` (see `ops::complete`).

use std::io::{Read, Seek};

use records::{Batch, FillError, Format, GunzipError};
use s3s::{S3Error, S3Result, s3_error};

use super::error::{gzip_error, internal};
use crate::cut::{Chunk, Cutter};

/// Bytes of records per chunk (the last record may take a chunk a little past it). 4 MiB,
/// not 8: with two 24 MiB uploads completing at once the app's peak RSS fell from 199-259
/// MiB to 165-194 MiB at the same throughput (docs/performance.md, "Sixth round").
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// Bytes read from a part's file at a time.
const READ_BYTES: usize = 1 << 20;

/// Reads `parts` from their start, in order, and hands `each` the object's chunks of about
/// `target` bytes (inflated first when `gzip`, refusing more than `limit` inflated bytes).
/// Stops at the first error, `each`'s included.
pub(crate) fn for_each_chunk<R: Read + Seek>(
    parts: &mut [R],
    gzip: bool,
    limit: u64,
    format: Format,
    target: usize,
    each: &mut dyn FnMut(Chunk<'_>) -> S3Result<()>,
) -> S3Result<()> {
    let mut cutter = Cutter::new(format, target);
    let mut gz = gzip.then(|| records::Gunzip::new(limit));
    let mut buf = vec![0u8; READ_BYTES];
    let mut sink =
        |piece: &[u8]| -> Result<(), Stop> { cutter.push(piece, each).map_err(Stop::S3) };
    for f in parts.iter_mut() {
        f.rewind().map_err(internal)?;
        loop {
            let n = f.read(&mut buf).map_err(internal)?;
            if n == 0 {
                break;
            }
            match gz.as_mut() {
                Some(g) => g.write(&buf[..n], &mut sink).map_err(Stop::into_s3)?,
                None => sink(&buf[..n]).map_err(Stop::into_s3)?,
            }
        }
    }
    if let Some(g) = gz {
        g.finish(&mut sink).map_err(Stop::into_s3)?;
    }
    cutter.finish(each)
}

/// Parses one chunk into a batch that may expand to `limit` bytes at most, each record in
/// one group with `attrs`. Errors name the object's line and record (`records_before` were
/// in earlier chunks) and say that nothing of the object was kept (true: every chunk is
/// parsed before the first is appended).
pub(crate) fn parse_chunk(
    chunk: &Chunk<'_>,
    format: Format,
    attrs: &[(String, String)],
    limit: u64,
    records_before: u64,
    (key, max, envelope): (&str, u64, records::landed::Envelope),
) -> S3Result<Batch> {
    let mut batch = Batch::for_request(envelope, limit);
    fill_chunk(&mut batch, chunk, format, attrs, records_before, (key, max))?;
    Ok(batch)
}

/// Parses one chunk into `batch` (see [`parse_chunk`]).
pub(crate) fn fill_chunk(
    batch: &mut Batch,
    chunk: &Chunk<'_>,
    format: Format,
    attrs: &[(String, String)],
    records_before: u64,
    (key, max): (&str, u64),
) -> S3Result<()> {
    crate::cut::fill(batch, chunk, format, attrs, records_before)
        .map(drop)
        .map_err(|e| match e {
            FillError::TooLarge(_) => s3_error!(
                EntityTooLarge,
                "object {key:?}: the records from line {} expand to over {max} bytes once landed \
             (records, with their attributes repeated on every landed line unless the stream's \
             envelope is record; --max-request-size bounds each part of an object parsed at \
             once); nothing of it was kept",
                chunk.lines_before + 1
            ),
            FillError::Parse(e) => s3_error!(
                InvalidArgument,
                "object {key:?} is not valid {}: {e}; nothing of it was kept",
                format.name()
            ),
        })
}

/// Why feeding the cutter stopped.
enum Stop {
    Gzip(GunzipError),
    S3(S3Error),
}

impl From<GunzipError> for Stop {
    fn from(e: GunzipError) -> Self {
        Stop::Gzip(e)
    }
}

impl Stop {
    fn into_s3(self) -> S3Error {
        match self {
            Stop::Gzip(e) => gzip_error(e),
            Stop::S3(e) => e,
        }
    }
}
