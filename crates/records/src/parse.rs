//! Record parsing: turns FlowFile, HTTP or S3 content into records, and records into a batch.
//!
//! Every record comes out as one compact, single-line JSON object (bytes), ready to be
//! embedded verbatim as `"record"` in a landed NDJSON line (docs/architecture.md, contract 1).
//! JSON is validated with serde_json without building value trees; a record's original bytes
//! are passed through unchanged unless they span several lines, in which case only their
//! insignificant whitespace is removed. CSV rows become objects of strings keyed by the header.

mod csv_rows;
mod json;
pub(crate) mod keys;

use crate::batch::TooLarge;
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
    parse_while(content, format, &mut |record: &[u8]| {
        emit(record);
        true
    })
}

/// [`parse`], stopping (with `Ok` of the records emitted so far) as soon as `emit` returns
/// false.
fn parse_while(
    content: &[u8],
    format: Format,
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<u64, ParseError> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    match format {
        Format::Json => json::parse_json(content, emit),
        Format::Ndjson => json::parse_ndjson(content, emit),
        Format::Csv => csv_rows::parse_csv(content, emit),
    }
}

/// Why [`fill_batch`] stopped: bad content, or a batch past its expanded-size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The content is not valid in its format.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The records would take the batch past its limit ([`Batch::set_limit`]); parsing
    /// stopped at the first record that did not fit.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// Parses `content` as `format` and appends its records to `batch` as one group carrying
/// `attributes` (no group at all when the content holds no record). Returns the record count.
///
/// All or nothing for the caller: on error the batch may hold some of the records, so a front
/// door drops the whole batch (the error names the line of the bad record, or the limit).
/// Parsing stops at the first record that would pass the batch's limit, so a small body that
/// expands (a wide CSV header, large attributes over many records) is refused early.
pub fn fill_batch<K: AsRef<str>, V: AsRef<str>>(
    batch: &mut Batch,
    attributes: &[(K, V)],
    content: &[u8],
    format: Format,
) -> Result<u64, FillError> {
    // Packed, a JSON record is its bytes plus a 5-byte entry head (NDJSON lines are copied
    // verbatim); a CSV row becomes a JSON object with the header's names, about twice its size.
    batch.reserve(match format {
        Format::Csv => content.len().saturating_mul(2),
        Format::Json | Format::Ndjson => content.len() + content.len() / 16,
    });
    let mut started = false;
    let mut over = None;
    let count = parse_while(content, format, &mut |record: &[u8]| {
        let pushed = if started {
            batch.try_push_record(record)
        } else {
            started = true;
            batch.try_begin_group_with(attributes, record)
        };
        match pushed {
            Ok(()) => true,
            Err(e) => {
                over = Some(e);
                false
            }
        }
    })?;
    match over {
        Some(e) => Err(FillError::TooLarge(e)),
        None => Ok(count),
    }
}

/// 1-based line number of byte `offset` in `content`.
fn line_at(content: &[u8], offset: usize) -> u64 {
    memchr::memchr_iter(b'\n', &content[..offset.min(content.len())]).count() as u64 + 1
}
