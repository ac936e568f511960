//! How a landed line wraps its record (docs/architecture.md, contract 1), chosen per stream,
//! and where a line came from ([`Lineage`]) under either form.

use serde::{Deserialize, Serialize};

use super::{LandedKey, Manifest};

/// The form of every line of a landed file, chosen per stream (`--envelope`) and recorded in
/// the file's manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// `{"record":{…},"meta":{"stream","instance","seq","received_at","attributes"}}`: each
    /// line carries its lineage and its FlowFile's attributes. The default, and what a
    /// manifest without `envelope` means.
    #[default]
    Meta,
    /// The record alone, verbatim compact JSON object: no attributes are landed, and a line's
    /// lineage follows from the file's key and its line number (see [`Lineage::of_row`]).
    Record,
}

impl Envelope {
    /// The setting's and the manifest's name: `meta` or `record`.
    pub fn name(self) -> &'static str {
        match self {
            Envelope::Meta => "meta",
            Envelope::Record => "record",
        }
    }
}

impl std::fmt::Display for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Envelope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "meta" => Ok(Envelope::Meta),
            "record" => Ok(Envelope::Record),
            _ => Err(format!("unknown envelope {s:?} (expected meta or record)")),
        }
    }
}

/// Where one landed line came from: what a `meta` line says in its `meta`, or what follows
/// for a `record` line from its file's key and line number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Lineage {
    /// The stream.
    pub stream: String,
    /// The instance that landed the file.
    pub instance: String,
    /// The record's sequence number.
    pub seq: u64,
    /// When the record was received (`meta` lines); for `record` lines the manifest's
    /// `created_at` (when the file was encoded), or `None` without a manifest.
    #[serde(default)]
    pub received_at: Option<String>,
}

impl Lineage {
    /// The lineage of line `row` (1-based, as [`super::lines`] numbers it) of the
    /// `record`-envelope file at `key`: there is exactly one line per record, so
    /// `seq = first_seq + row - 1`.
    pub fn of_row(key: &LandedKey, manifest: Option<&Manifest>, row: u64) -> Lineage {
        Lineage {
            stream: key.stream.clone(),
            instance: key.instance.clone(),
            seq: key.first_seq + row.saturating_sub(1),
            received_at: manifest.map(|m| m.created_at.clone()),
        }
    }
}
