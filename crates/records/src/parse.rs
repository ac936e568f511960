//! Record parsing: turns FlowFile, HTTP or S3 content into records, and records into a batch.
//!
//! Every record comes out as one compact, single-line JSON object (bytes), ready to be
//! embedded verbatim as `"record"` in a landed NDJSON line (docs/architecture.md, contract 1).
//! JSON is validated with serde_json without building value trees; a record's original bytes
//! are passed through unchanged unless they span several lines, in which case only their
//! insignificant whitespace is removed. CSV rows become objects of strings keyed by the header.

mod csv_rows;
mod json;

use crate::{Batch, Format};

/// Why content could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} ({}): {message}", RecordLabel(*.record))]
pub struct ParseError {
    /// 1-based line in the content where the bad record (or the error) starts.
    pub line: u64,
    /// 1-based number of the bad record; 0 for a CSV header.
    pub record: u64,
    /// What is wrong, without the position.
    pub message: String,
}

impl ParseError {
    /// The error `message` for `record` (0: a CSV header) starting at `line`.
    pub(crate) fn new(line: u64, record: u64, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            record,
            message: message.into(),
        }
    }
}

struct RecordLabel(u64);

impl std::fmt::Display for RecordLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => f.write_str("header"),
            n => write!(f, "record {n}"),
        }
    }
}

/// Calls `emit` once per record with a single-line JSON object. Returns the record count.
/// Empty or whitespace-only content is zero records (`Ok(0)`). A leading UTF-8 byte order
/// mark is ignored. On error, records before the bad one have already been emitted.
pub fn parse(
    content: &[u8],
    format: Format,
    emit: &mut dyn FnMut(&[u8]),
) -> Result<u64, ParseError> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    match format {
        Format::Json => json::parse_json(content, emit),
        Format::Ndjson => json::parse_ndjson(content, emit),
        Format::Csv => csv_rows::parse_csv(content, emit),
    }
}

/// Parses `content` as `format` and appends its records to `batch` as one group carrying
/// `attributes` (no group at all when the content holds no record). Returns the record count.
///
/// All or nothing for the caller: on error the batch may hold some of the records, so a front
/// door drops the whole batch (the error names the line of the bad record).
pub fn fill_batch<K: AsRef<str>, V: AsRef<str>>(
    batch: &mut Batch,
    attributes: &[(K, V)],
    content: &[u8],
    format: Format,
) -> Result<u64, ParseError> {
    let mut started = false;
    parse(content, format, &mut |record: &[u8]| {
        if !started {
            batch.begin_group(attributes);
            started = true;
        }
        batch.push_record(record);
    })
}

/// 1-based line number of byte `offset` in `content`.
fn line_at(content: &[u8], offset: usize) -> u64 {
    memchr::memchr_iter(b'\n', &content[..offset.min(content.len())]).count() as u64 + 1
}
