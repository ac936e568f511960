//! The record formats a front door accepts, and the one table of their names, MIME types and
//! file extensions.

use std::fmt;
use std::str::FromStr;

/// A content format whose records snowstream parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Format {
    /// One object, an array of objects, or objects one after another (NDJSON labelled JSON).
    Json,
    /// One object per line; blank lines are skipped.
    Ndjson,
    /// A header row, then one record per row.
    Csv,
}

/// MIME types (essence only, lowercase) of each format; the first is the one we send.
const MIME_TYPES: [(Format, &[&str]); 3] = [
    (Format::Json, &["application/json", "text/json"]),
    (
        Format::Ndjson,
        &[
            "application/x-ndjson",
            "application/ndjson",
            "application/jsonl",
            "application/x-jsonl",
            "application/jsonlines",
            "application/x-jsonlines",
            "application/json-seq",
        ],
    ),
    (Format::Csv, &["text/csv", "application/csv"]),
];

/// Names (configuration values and file extensions) of each format; the first is canonical.
const NAMES: [(Format, &[&str]); 3] = [
    (Format::Json, &["json"]),
    (Format::Ndjson, &["ndjson", "jsonl"]),
    (Format::Csv, &["csv"]),
];

/// A format name that is not json, ndjson (jsonl) or csv.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record format {0:?} (expected json, ndjson or csv)")]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in a fixed order.
    pub const ALL: [Format; 3] = [Format::Json, Format::Ndjson, Format::Csv];

    /// From a MIME type, ignoring parameters and case: `application/json`, `text/json` -> Json;
    /// `application/x-ndjson`, `application/ndjson`, `application/jsonl`,
    /// `application/x-jsonl`, `application/jsonlines`, `application/x-jsonlines`,
    /// `application/json-seq` -> Ndjson; `text/csv`, `application/csv` -> Csv.
    /// Anything else -> None.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime.split(';').next().unwrap_or_default().trim();
        MIME_TYPES
            .iter()
            .find(|(_, types)| types.iter().any(|t| essence.eq_ignore_ascii_case(t)))
            .map(|(format, _)| *format)
    }

    /// From a configuration value: `json`, `ndjson` (or `jsonl`), `csv`, any case.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::named(name.trim())
    }

    /// From a file name or object key: `.json`, `.ndjson`, `.jsonl`, `.csv`, optionally
    /// followed by `.gz` (any case). A name that is only an extension (`.csv`) has none.
    pub fn from_extension(key: &str) -> Option<Format> {
        let lower = key.to_ascii_lowercase();
        let name = lower.rsplit('/').next().unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let (stem, ext) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        Format::named(ext)
    }

    /// The format with exactly this name or alias, any case.
    fn named(name: &str) -> Option<Format> {
        NAMES
            .iter()
            .find(|(_, names)| names.iter().any(|n| name.eq_ignore_ascii_case(n)))
            .map(|(format, _)| *format)
    }

    /// The canonical name, accepted by [`Format::from_name`]: `json`, `ndjson` or `csv`.
    pub fn name(self) -> &'static str {
        NAMES[self.index()].1[0]
    }

    /// The MIME type to send content of this format with (`Content-Type`).
    pub fn mime(self) -> &'static str {
        MIME_TYPES[self.index()].1[0]
    }

    /// The file extension, without the dot, for content of this format.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    fn index(self) -> usize {
        match self {
            Format::Json => 0,
            Format::Ndjson => 1,
            Format::Csv => 2,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_name(s).ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

impl TryFrom<String> for Format {
    type Error = UnknownFormat;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_the_variants() {
        for format in Format::ALL {
            assert_eq!(Format::from_mime(format.mime()), Some(format));
            assert_eq!(Format::from_name(format.name()), Some(format));
            let file = format!("x.{}", format.extension());
            assert_eq!(Format::from_extension(&file), Some(format));
        }
    }
}
