//! Content cut into chunks of whole records as it streams in, so that a body or an object of
//! any size is parsed a chunk at a time instead of held whole: both front doors use it (a
//! raw HTTP body or FlowFile content, an S3 object's parts). NDJSON cuts at line ends, CSV
//! between records (a chunk after the first repeats the header row, so each parses on its
//! own); a JSON document is never cut.

use records::{Batch, FillError, Format};

/// Whether content of `format` can be cut into chunks of whole records.
pub(crate) fn splits(format: Format) -> bool {
    matches!(format, Format::Ndjson | Format::Csv)
}

/// One chunk of content: whole records, CSV ones after the header row.
pub(crate) struct Chunk<'a> {
    /// 0 for the first chunk.
    pub index: u64,
    /// The records (for a CSV chunk after the first: the header row, then the records).
    pub content: &'a [u8],
    /// Lines of the content before the chunk's records.
    pub lines_before: u64,
    /// Lines of `content` that are the repeated header, not the chunk's own.
    pub header_lines: u64,
}

/// Parses `chunk` into `batch` as [`records::fill_batch`] does (one group with `attrs`), with
/// an error's line and record counted from the start of the whole content (`records_before`
/// were in earlier chunks). Returns the records added.
pub(crate) fn fill<K: AsRef<str>, V: AsRef<str>>(
    batch: &mut Batch,
    chunk: &Chunk<'_>,
    format: Format,
    attrs: &[(K, V)],
    records_before: u64,
) -> Result<u64, FillError> {
    records::fill_batch(batch, attrs, chunk.content, format).map_err(|e| match e {
        FillError::Parse(mut e) => {
            e.line = (e.line + chunk.lines_before).saturating_sub(chunk.header_lines);
            if e.record > 0 {
                e.record += records_before;
            }
            FillError::Parse(e)
        }
        e @ FillError::TooLarge(_) => e,
    })
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
pub(crate) struct Cutter {
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
    /// A cutter of `format` content into chunks of at least `target` bytes (but the last).
    pub fn new(format: Format, target: usize) -> Cutter {
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

    /// Takes the next `piece` of content and hands `each` every chunk it completes.
    pub fn push<E>(
        &mut self,
        piece: &[u8],
        each: &mut dyn FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
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
    fn cut<E>(
        &mut self,
        end: usize,
        each: &mut dyn FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
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

    /// Hands out what is left: always for the first chunk (empty content parses as
    /// before), otherwise when it holds more than whitespace.
    pub fn finish<E>(mut self, each: &mut dyn FnMut(Chunk<'_>) -> Result<(), E>) -> Result<(), E> {
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
        let mut each = |c: Chunk<'_>| -> Result<(), ()> {
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
