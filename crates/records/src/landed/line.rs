//! The lines of a landed data file, built and parsed: `{"record":{…},"meta":{…}}` (envelope
//! `meta`) or the record alone (envelope `record`).

use std::io::Write;

use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Envelope, LandedKey, Lineage, Manifest};

/// Builds the lines of one landed file (one stream, one instance), reusing one buffer.
#[derive(Debug)]
pub struct LineWriter {
    stream_json: String,
    instance_json: String,
    envelope: Envelope,
    line: Vec<u8>,
}

impl LineWriter {
    /// A writer of `meta`-envelope lines whose `meta` names `stream` and `instance`.
    pub fn new(stream: &str, instance: &str) -> LineWriter {
        LineWriter {
            stream_json: serde_json::to_string(stream).expect("a string serializes"),
            instance_json: serde_json::to_string(instance).expect("a string serializes"),
            envelope: Envelope::Meta,
            line: Vec::with_capacity(4096),
        }
    }

    /// The same writer, writing lines in `envelope`.
    pub fn with_envelope(mut self, envelope: Envelope) -> LineWriter {
        self.envelope = envelope;
        self
    }

    /// The line (ending in `\n`) of one record. Envelope `meta`: `record` verbatim (one
    /// compact JSON object), then `meta` with `seq`, `received_at` (as from [`format_time`])
    /// and `attributes` (a JSON object, verbatim). Envelope `record`: the record verbatim and
    /// nothing else. The slice is valid until the next call.
    pub fn line(&mut self, record: &[u8], seq: u64, received_at: &str, attributes: &[u8]) -> &[u8] {
        let line = &mut self.line;
        line.clear();
        if self.envelope == Envelope::Record {
            line.extend_from_slice(record);
            line.push(b'\n');
            return line;
        }
        line.extend_from_slice(b"{\"record\":");
        line.extend_from_slice(record);
        line.extend_from_slice(b",\"meta\":{\"stream\":");
        line.extend_from_slice(self.stream_json.as_bytes());
        line.extend_from_slice(b",\"instance\":");
        line.extend_from_slice(self.instance_json.as_bytes());
        line.extend_from_slice(b",\"seq\":");
        write!(line, "{seq}").expect("writing to a Vec cannot fail");
        line.extend_from_slice(b",\"received_at\":\"");
        line.extend_from_slice(received_at.as_bytes());
        line.extend_from_slice(b"\",\"attributes\":");
        line.extend_from_slice(attributes);
        line.extend_from_slice(b"}}\n");
        line
    }

    /// Writes the line of every record of one packed batch (a spool frame) to `out`, each
    /// with its sequence number, the batch's receive time and its group's attributes; the
    /// number of records written. `Err(InvalidData)` when `packed` is not a well-formed batch.
    pub fn write_batch(&mut self, packed: &[u8], out: &mut impl Write) -> std::io::Result<u64> {
        let corrupt =
            || std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt packed batch");
        let payload = crate::batch::Payload::parse(packed).ok_or_else(corrupt)?;
        let received_at = format_time(payload.received_at_ms);
        let mut seq = payload.first_seq;
        let mut attrs: &[u8] = b"{}";
        for entry in payload.entries() {
            match entry.ok_or_else(corrupt)? {
                crate::batch::Entry::Group(a) => attrs = a,
                crate::batch::Entry::Record(r) => {
                    out.write_all(self.line(r, seq, &received_at, attrs))?;
                    seq += 1;
                }
            }
        }
        Ok(seq - payload.first_seq)
    }
}

/// A time as landed files write it (`received_at`, `created_at`): RFC 3339 UTC with
/// milliseconds, e.g. `2026-11-24T13:45:01.123Z`, from Unix milliseconds.
pub fn format_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The non-blank lines of a data file's text with their 1-based line numbers (the
/// warehouse's row number), without a trailing `\r`.
pub fn lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty())
}

/// One parsed line, borrowing its text: the record and the metadata, as written (no
/// metadata for a `record`-envelope line).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct LandedLine<'a> {
    /// The record, verbatim (always a JSON object).
    #[serde(borrow)]
    pub record: &'a RawValue,
    /// The metadata, verbatim; `None` when the line has none (or `null`).
    #[serde(borrow, default)]
    pub meta: Option<&'a RawValue>,
}

/// Why a line is not `{"record":{…},"meta":…}` (envelope `meta`) or a JSON object
/// (envelope `record`).
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object with a `record` field.
    #[error("not a JSON object with a \"record\": {0}")]
    Json(#[from] serde_json::Error),
    /// `record` is not a JSON object.
    #[error("\"record\" is not a JSON object")]
    RecordNotObject,
    /// A `record`-envelope line is not one JSON object.
    #[error("not a JSON object: {0}")]
    NotObject(serde_json::Error),
    /// A `meta` holds no `stream`, `instance` and `seq`.
    #[error("\"meta\" has no stream, instance and seq: {0}")]
    Meta(serde_json::Error),
}

impl<'a> LandedLine<'a> {
    /// Parses one `meta`-envelope line (without its `\n`).
    pub fn parse(line: &'a str) -> Result<LandedLine<'a>, LineError> {
        let parsed: LandedLine<'a> = serde_json::from_str(line)?;
        if parsed.record.get().trim_start().starts_with('{') {
            Ok(parsed)
        } else {
            Err(LineError::RecordNotObject)
        }
    }

    /// Parses one line (without its `\n`) of a file written in `envelope`: a `record` line
    /// is the record itself and has no `meta`.
    pub fn parse_in(envelope: Envelope, line: &'a str) -> Result<LandedLine<'a>, LineError> {
        match envelope {
            Envelope::Meta => Self::parse(line),
            Envelope::Record => {
                let record: &'a RawValue =
                    serde_json::from_str(line).map_err(LineError::NotObject)?;
                if record.get().trim_start().starts_with('{') {
                    Ok(LandedLine { record, meta: None })
                } else {
                    Err(LineError::RecordNotObject)
                }
            }
        }
    }

    /// Where line `row` (1-based) of the file at `key` came from: its `meta` when it has one,
    /// else (a `record` line) derived from the key, the row and the manifest (see
    /// [`Lineage::of_row`]).
    pub fn lineage(
        &self,
        key: &LandedKey,
        manifest: Option<&Manifest>,
        row: u64,
    ) -> Result<Lineage, LineError> {
        match self.meta {
            Some(meta) => serde_json::from_str(meta.get()).map_err(LineError::Meta),
            None => Ok(Lineage::of_row(key, manifest, row)),
        }
    }
}
