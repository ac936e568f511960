//! Wire formats for a batch of records: JSON array, NDJSON, CSV (seed-style header) and
//! FlowFile v3 packages (one FlowFile per record).

use std::fmt;
use std::str::FromStr;

use crate::GenError;
use crate::record::{COLUMNS, Customer};

/// How a batch is written on the wire or to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON array of objects (`application/json`).
    Json,
    /// One JSON object per line (`application/x-ndjson`).
    Ndjson,
    /// A header `id,name,phone_number,email,address,country,job,updated_at,op` then one row
    /// per record, RFC 4180 quoting (multi-line addresses are quoted) (`text/csv`).
    Csv,
    /// A FlowFile v3 package with one FlowFile per record; each FlowFile's content is the
    /// record as a JSON object (`application/flowfile-v3`).
    FlowFileV3,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::FlowFileV3,
    ];

    /// The `Content-Type` of a batch in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::FlowFileV3 => "application/flowfile-v3",
        }
    }

    /// File extension (without dot) for a batch written to a folder.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::FlowFileV3 => "flowfile",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::FlowFileV3 => "flowfile-v3",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            "flowfile-v3" | "flowfile" | "flowfilev3" => Ok(Format::FlowFileV3),
            _ => Err(format!(
                "unknown format {s:?}: use json, ndjson, csv or flowfile-v3"
            )),
        }
    }
}

/// Encodes `records` in `format` with no extra FlowFile attributes.
pub fn encode_batch(records: &[Customer], format: Format) -> (Vec<u8>, &'static str) {
    encode_batch_with(records, format, &[])
}

/// Encodes `records` in `format`; for FlowFile v3 every FlowFile gets `mime.type`,
/// `filename` and then `attributes` (which may override the first two).
pub fn encode_batch_with(
    records: &[Customer],
    format: Format,
    attributes: &[(String, String)],
) -> (Vec<u8>, &'static str) {
    let mut out = Vec::with_capacity(records.len() * 256);
    match format {
        Format::Json => {
            serde_json::to_writer(&mut out, records).expect("records always serialize");
        }
        Format::Ndjson => {
            for r in records {
                serde_json::to_writer(&mut out, r).expect("records always serialize");
                out.push(b'\n');
            }
        }
        Format::Csv => {
            // The header is written by hand so that an empty batch still has one.
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut out);
            w.write_record(COLUMNS).expect("writing to memory");
            for r in records {
                w.serialize(r).expect("records always serialize");
            }
            w.flush().expect("writing to memory");
        }
        Format::FlowFileV3 => {
            let mut content = Vec::with_capacity(512);
            for r in records {
                content.clear();
                serde_json::to_writer(&mut content, r).expect("records always serialize");
                let filename = format!("customer-{}-{}.json", r.id, r.updated_at.millis());
                let mut attrs: Vec<(&str, &str)> = vec![
                    ("mime.type", "application/json"),
                    ("filename", filename.as_str()),
                ];
                for (k, v) in attributes {
                    match attrs.iter_mut().find(|(key, _)| *key == k.as_str()) {
                        Some(slot) => slot.1 = v.as_str(),
                        None => attrs.push((k.as_str(), v.as_str())),
                    }
                }
                flowfile::encode(flowfile::Version::V3, &attrs, &content, &mut out);
            }
        }
    }
    (out, format.content_type())
}

/// Reads records back from a batch in `format` (used to check what landed).
pub fn decode_batch(data: &[u8], format: Format) -> Result<Vec<Customer>, GenError> {
    let bad = |e: &dyn fmt::Display| GenError::Decode {
        format,
        reason: e.to_string(),
    };
    match format {
        Format::Json => serde_json::from_slice(data).map_err(|e| bad(&e)),
        Format::Ndjson => serde_json::Deserializer::from_slice(data)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e)),
        Format::Csv => {
            let mut r = csv::Reader::from_reader(data);
            let header = r.headers().map_err(|e| bad(&e))?;
            if header.iter().ne(COLUMNS) {
                return Err(bad(&format!(
                    "the CSV header is {:?}, expected {}",
                    header.iter().collect::<Vec<_>>().join(","),
                    COLUMNS.join(",")
                )));
            }
            r.deserialize()
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))
        }
        Format::FlowFileV3 => {
            let flowfiles =
                flowfile::decode_all(flowfile::Version::V3, data, flowfile::Limits::default())
                    .map_err(|e| bad(&e))?;
            flowfiles
                .iter()
                .map(|f| serde_json::from_slice(&f.content).map_err(|e| bad(&e)))
                .collect()
        }
    }
}
