//! Record parsing: turns FlowFile/HTTP content into records.
//!
//! Every record comes out as one compact, single-line JSON object (bytes), ready to be
//! embedded verbatim as `"record"` in a landed NDJSON line (docs/architecture.md, contract 1).
//! JSON is validated with serde_json without building value trees; a record's original bytes
//! are passed through unchanged unless they span several lines, in which case only their
//! insignificant whitespace is removed. CSV rows become objects of strings keyed by the header.

mod csv_rows;
mod json;

/// A content format the receiver understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One object, an array of objects, or objects one after another (NDJSON labelled JSON).
    Json,
    /// One object per line; blank lines are skipped.
    Ndjson,
    /// A header row, then one record per row.
    Csv,
}

impl Format {
    /// From a MIME type, ignoring parameters and case: `application/json`, `text/json` -> Json;
    /// `application/x-ndjson`, `application/ndjson`, `application/jsonl`,
    /// `application/x-jsonlines`, `application/jsonlines`, `application/json-seq` -> Ndjson;
    /// `text/csv`, `application/csv` -> Csv. Anything else -> None.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime.split(';').next().unwrap_or_default().trim();
        let is = |name: &str| essence.eq_ignore_ascii_case(name);
        if is("application/json") || is("text/json") {
            Some(Format::Json)
        } else if [
            "application/x-ndjson",
            "application/ndjson",
            "application/jsonl",
            "application/x-jsonl",
            "application/jsonlines",
            "application/x-jsonlines",
            "application/json-seq",
        ]
        .into_iter()
        .any(is)
        {
            Some(Format::Ndjson)
        } else if is("text/csv") || is("application/csv") {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// From a configuration value: `json`, `ndjson` (or `jsonl`), `csv`, any case.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// From a file name or object key: `.json`, `.ndjson`, `.jsonl`, `.csv`, optionally
    /// followed by `.gz` (any case).
    pub fn from_extension(key: &str) -> Option<Format> {
        let lower = key.to_ascii_lowercase();
        let name = lower.rsplit('/').next().unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let (stem, ext) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        match ext {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The name accepted by [`Format::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why content could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} ({}): {message}", RecordLabel(*.record))]
pub struct ParseError {
    /// 1-based line in the content where the bad record (or the error) starts.
    pub line: u64,
    /// 1-based number of the bad record; 0 for a CSV header.
    pub record: u64,
    pub message: String,
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

/// 1-based line number of byte `offset` in `content`.
fn line_at(content: &[u8], offset: usize) -> u64 {
    memchr::memchr_iter(b'\n', &content[..offset.min(content.len())]).count() as u64 + 1
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::from_name(s)
            .ok_or_else(|| format!("unknown record format {s:?} (expected json, ndjson or csv)"))
    }
}
