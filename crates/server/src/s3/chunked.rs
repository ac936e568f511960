//! A multipart object read incrementally: its parts' files in order (inflated on the fly
//! when the object is gzip'd) cut into chunks of whole records, each about [`CHUNK_BYTES`],
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

/// Bytes of records per chunk (the last record may take a chunk a little past it). 4 MiB,
/// not 8: with two 24 MiB uploads completing at once the app's peak RSS fell from 199-259
/// MiB to 165-194 MiB at the same throughput (docs/performance.md, "Sixth round").
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// Bytes read from a part's file at a time.
const READ_BYTES: usize = 1 << 20;

/// Whether objects of `format` can be cut into chunks of whole records.
pub(crate) fn splits(format: Format) -> bool {
    matches!(format, Format::Ndjson | Format::Csv)
}

/// One chunk of an object: whole records, CSV ones after the header row.
pub(crate) struct Chunk<'a> {
    /// 0 for the first chunk.
    pub index: u64,
    /// The records (for a CSV chunk after the first: the header row, then the records).
    pub content: &'a [u8],
    /// Lines of the object before the chunk's records.
    pub lines_before: u64,
    /// Lines of `content` that are the repeated header, not the chunk's own.
    pub header_lines: u64,
}

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
    records::fill_batch(batch, attrs, chunk.content, format)
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
            FillError::Parse(mut e) => {
                e.line = (e.line + chunk.lines_before).saturating_sub(chunk.header_lines);
                if e.record > 0 {
                    e.record += records_before;
                }
                s3_error!(
                    InvalidArgument,
                    "object {key:?} is not valid {}: {e}; nothing of it was kept",
                    format.name()
                )
            }
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

/// Where a CSV scan stands, following the csv crate's reading: a quote opens a field only
/// at its start, and `""` inside a quoted field is a quote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Csv {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the field's end, or the first half of `""`.
    QuotedQuote,
}

impl Csv {
    /// The state after byte `b`; a line feed that leaves `FieldStart` ends a record.
    fn step(self, b: u8) -> Csv {
        match (self, b) {
            (Csv::Quoted, b'"') => Csv::QuotedQuote,
            (Csv::Quoted, _) => Csv::Quoted,
            (Csv::QuotedQuote | Csv::FieldStart, b'"') => Csv::Quoted,
            (_, b'\n' | b',' | b'\r') => Csv::FieldStart,
            _ => Csv::Unquoted,
        }
    }
}

/// Accumulates content and cuts it at the first record boundary at least `target` bytes in.
struct Cutter {
    format: Format,
    target: usize,
    /// The header row (CSV, once the first chunk was cut), then content not yet handed out.
    buf: Vec<u8>,
    /// Bytes at the front of `buf` that are the repeated header.
    header: usize,
    header_lines: u64,
    /// Bytes of `buf` already scanned for a boundary, and the CSV state there.
    scanned: usize,
    csv: Csv,
    index: u64,
    lines_before: u64,
    /// NDJSON: nothing but blanks since the last line feed (or the start).
    at_line_start: bool,
}

/// Bytes a JSON parser skips at the start of a line.
fn blank(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

impl Cutter {
    fn new(format: Format, target: usize) -> Cutter {
        Cutter {
            format,
            target: target.max(1),
            buf: Vec::new(),
            header: 0,
            header_lines: 0,
            scanned: 0,
            csv: Csv::FieldStart,
            index: 0,
            lines_before: 0,
            at_line_start: true,
        }
    }

    fn push(
        &mut self,
        piece: &[u8],
        each: &mut dyn FnMut(Chunk<'_>) -> S3Result<()>,
    ) -> S3Result<()> {
        if self.format == Format::Ndjson {
            // Blanks at the start of a line mean nothing to a JSON parser: they are dropped as
            // they come, so a line of nothing but blanks (250 MB of spaces inflated from a
            // 248 KB gzip body) never piles up. No line feed is dropped: lines keep their numbers.
            let mut piece = piece;
            if self.at_line_start {
                let skip = piece.iter().position(|b| !blank(b)).unwrap_or(piece.len());
                piece = &piece[skip..];
            }
            if piece.is_empty() {
                return Ok(());
            }
            let end = match piece.iter().rposition(|&b| b == b'\n') {
                Some(nl) if piece[nl + 1..].iter().all(blank) => {
                    self.at_line_start = true;
                    nl + 1
                }
                _ => {
                    self.at_line_start = false;
                    piece.len()
                }
            };
            self.buf.extend_from_slice(&piece[..end]);
        } else {
            self.buf.extend_from_slice(piece);
        }
        while let Some(end) = self.next_cut() {
            self.cut(end, each)?;
        }
        Ok(())
    }

    /// Scans on for the end of the first record that ends `target` or more bytes past the
    /// header; None (everything scanned) when the content has none yet.
    fn next_cut(&mut self) -> Option<usize> {
        let min = self.header + self.target;
        match self.format {
            Format::Ndjson => {
                // Any line feed ends a record: only the bytes from `min` on need looking at.
                let from = self.scanned.max(min - 1).min(self.buf.len());
                match self.buf[from..].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.scanned = from + i + 1;
                        Some(self.scanned)
                    }
                    None => {
                        self.scanned = self.buf.len();
                        None
                    }
                }
            }
            Format::Csv => {
                let mut state = self.csv;
                for i in self.scanned..self.buf.len() {
                    let b = self.buf[i];
                    state = state.step(b);
                    if b == b'\n' && state == Csv::FieldStart && i + 1 >= min {
                        self.scanned = i + 1;
                        self.csv = state;
                        return Some(i + 1);
                    }
                }
                self.scanned = self.buf.len();
                self.csv = state;
                None
            }
            // A JSON document is never cut.
            Format::Json => None,
        }
    }

    /// Hands out the content up to `end` (a record boundary) and keeps the rest after the
    /// header.
    fn cut(&mut self, end: usize, each: &mut dyn FnMut(Chunk<'_>) -> S3Result<()>) -> S3Result<()> {
        each(Chunk {
            index: self.index,
            content: &self.buf[..end],
            lines_before: self.lines_before,
            header_lines: if self.index == 0 {
                0
            } else {
                self.header_lines
            },
        })?;
        self.lines_before += lines(&self.buf[self.header..end]);
        if self.index == 0 && self.format == Format::Csv {
            self.header = header_len(&self.buf[..end]);
            self.header_lines = lines(&self.buf[..self.header]);
        }
        self.buf.drain(self.header..end);
        self.scanned = self.header + self.scanned.saturating_sub(end);
        self.index += 1;
        Ok(())
    }

    /// Hands out what is left: always for the first chunk (an empty object parses as
    /// before), otherwise when it holds more than whitespace.
    fn finish(mut self, each: &mut dyn FnMut(Chunk<'_>) -> S3Result<()>) -> S3Result<()> {
        let rest = &self.buf[self.header..];
        if self.index == 0 || !rest.iter().all(u8::is_ascii_whitespace) {
            let end = self.buf.len();
            self.cut(end, each)?;
        }
        Ok(())
    }
}

/// Length of the header row at the start of a first CSV chunk: up to the end of its first
/// record that is not blank (the csv crate skips empty lines), a byte order mark left out by
/// the caller's parse as by ours.
fn header_len(chunk: &[u8]) -> usize {
    let body = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
    let skip = chunk.len() - body.len();
    let mut start = 0;
    let mut state = Csv::FieldStart;
    for (i, &b) in body.iter().enumerate() {
        state = state.step(b);
        if b == b'\n' && state == Csv::FieldStart {
            if !body[start..=i].iter().all(u8::is_ascii_whitespace) {
                return skip + i + 1;
            }
            start = i + 1;
        }
    }
    chunk.len()
}

fn lines(content: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', content).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks `content` is cut into when fed `piece` bytes at a time.
    fn chunks(content: &[u8], format: Format, target: usize, piece: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut each = |c: Chunk<'_>| -> S3Result<()> {
            assert_eq!(c.index as usize, out.len());
            out.push(c.content.to_vec());
            Ok(())
        };
        let mut cutter = Cutter::new(format, target);
        for p in content.chunks(piece) {
            cutter.push(p, &mut each).unwrap();
        }
        cutter.finish(&mut each).unwrap();
        out
    }

    #[test]
    fn ndjson_cuts_after_the_first_line_end_past_the_target() {
        let body = b"{\"a\":1}\n{\"a\":22}\n{\"a\":333}\n";
        for piece in [1, 3, 100] {
            let c = chunks(body, Format::Ndjson, 9, piece);
            assert_eq!(
                c,
                [&b"{\"a\":1}\n{\"a\":22}\n"[..], b"{\"a\":333}\n"],
                "{piece}"
            );
        }
        // A JSON document is never cut.
        assert_eq!(chunks(body, Format::Json, 1, 2).len(), 1);
    }

    #[test]
    fn csv_cuts_only_between_records_and_repeats_the_header() {
        let body = "\u{feff}h1,h2\r\n1,\"a\nb\"\n2,\"x\"\"\ny\"\n3,z\n";
        let c = chunks(body.as_bytes(), Format::Csv, 1, 2);
        let c: Vec<String> = c
            .into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect();
        let header = "\u{feff}h1,h2\r\n";
        assert_eq!(
            c,
            [
                header.to_owned(),
                format!("{header}1,\"a\nb\"\n"),
                format!("{header}2,\"x\"\"\ny\"\n"),
                format!("{header}3,z\n"),
            ]
        );
        // Every chunk parses on its own into the rows it holds.
        let mut rows = Vec::new();
        for chunk in &c {
            records::parse(chunk.as_bytes(), Format::Csv, &mut |r| {
                rows.push(r.to_vec())
            })
            .unwrap();
        }
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1], br#"{"h1":"2","h2":"x\"\ny"}"#);
    }
}
