//! Wire formats for a batch of records: the record formats of the `records` crate (JSON
//! array, NDJSON, CSV with a seed-style header) and FlowFile v3 packages (one FlowFile per
//! record).

use std::fmt;
use std::str::FromStr;

use crate::GenError;
use crate::record::{COLUMNS, Customer};

/// How a batch is written on the wire or to a file: in one of the record formats snowstream
/// parses, or as a FlowFile v3 package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The batch in a record format: one JSON array of objects, one JSON object per line, or
    /// CSV with the header `id,name,phone_number,email,address,country,job,updated_at,op` then
    /// one row per record, RFC 4180 quoting (multi-line addresses are quoted). Its MIME type
    /// and file extension are the record format's.
    Records(records::Format),
    /// A FlowFile v3 package with one FlowFile per record; each FlowFile's content is the
    /// record as a JSON object (`application/flowfile-v3`).
    FlowFileV3,
}

impl Format {
    /// Every format, record formats first.
    pub const ALL: [Format; 4] = [
        Format::Records(records::Format::Json),
        Format::Records(records::Format::Ndjson),
        Format::Records(records::Format::Csv),
        Format::FlowFileV3,
    ];

    /// The `Content-Type` of a batch in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Records(f) => f.mime(),
            Format::FlowFileV3 => flowfile::Version::V3.mime(),
        }
    }

    /// File extension (without dot) for a batch written to a folder.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Records(f) => f.extension(),
            Format::FlowFileV3 => "flowfile",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Records(f) => f.name(),
            Format::FlowFileV3 => "flowfile-v3",
        }
    }
}

impl From<records::Format> for Format {
    fn from(f: records::Format) -> Self {
        Format::Records(f)
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
            "flowfile-v3" | "flowfile" | "flowfilev3" => Ok(Format::FlowFileV3),
            _ => s
                .parse()
                .map(Format::Records)
                .map_err(|_| format!("unknown format {s:?}: use json, ndjson, csv or flowfile-v3")),
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
        Format::Records(records::Format::Json) => {
            serde_json::to_writer(&mut out, records).expect("records always serialize");
        }
        Format::Records(records::Format::Ndjson) => {
            for r in records {
                serde_json::to_writer(&mut out, r).expect("records always serialize");
                out.push(b'\n');
            }
        }
        Format::Records(records::Format::Csv) => {
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
                    ("mime.type", records::Format::Json.mime()),
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
        Format::Records(records::Format::Json) => serde_json::from_slice(data).map_err(|e| bad(&e)),
        Format::Records(records::Format::Ndjson) => serde_json::Deserializer::from_slice(data)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&e)),
        Format::Records(records::Format::Csv) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_extensions() {
        let want = [
            ("json", "application/json", "json"),
            ("ndjson", "application/x-ndjson", "ndjson"),
            ("csv", "text/csv", "csv"),
            ("flowfile-v3", "application/flowfile-v3", "flowfile"),
        ];
        for (format, (name, mime, ext)) in Format::ALL.into_iter().zip(want) {
            assert_eq!(
                (format.name(), format.content_type(), format.extension()),
                (name, mime, ext)
            );
            assert_eq!(name.parse::<Format>(), Ok(format));
            assert_eq!(name.to_uppercase().parse::<Format>(), Ok(format));
        }
        assert_eq!(
            "jsonl".parse::<Format>(),
            Ok(Format::Records(records::Format::Ndjson))
        );
        assert_eq!("flowfile".parse::<Format>(), Ok(Format::FlowFileV3));
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(
            err,
            "unknown format \"xml\": use json, ndjson, csv or flowfile-v3"
        );
    }
}
