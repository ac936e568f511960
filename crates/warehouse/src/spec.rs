//! Table specs: the small TOML file that describes one table (key, event time, typed
//! columns, delete marker). Both the Snowflake renderer and the embedded warehouse use it.

use std::path::Path;

use records::landed::Envelope;
use serde::Deserialize;

use crate::Error;

/// The type of a column read from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 64-bit integer (JSON number or decimal string, as CSV rows carry it).
    Integer,
    /// Double-precision number.
    Float,
    /// `true`/`false` (JSON boolean or the strings "true"/"false").
    Boolean,
    /// Text, verbatim.
    String,
    /// RFC 3339 UTC instant; stored as `YYYY-MM-DDTHH:MM:SS.mmmZ` text locally and
    /// `TIMESTAMP_NTZ(3)` (UTC) in Snowflake.
    Timestamp,
}

/// One typed column of the table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name, also the record's field name.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Marks deletes: a record whose `column` equals `value` is a delete (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteMarker {
    /// The operation column, e.g. `op`.
    pub column: String,
    /// The value that marks a delete, e.g. `D`.
    pub value: String,
}

/// A table spec (see `specs/customers.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Base name: tables are `{name}_raw`, `{name}_latest`, `{name}_history`.
    pub name: String,
    /// Landing stream whose files feed this table.
    pub stream: String,
    /// Business key columns.
    pub key: Vec<String>,
    /// Event-time column ordering the versions of one key.
    pub event_time: String,
    /// Delete marker (op column + value).
    pub delete_marker: DeleteMarker,
    /// Typed columns, in table order.
    pub columns: Vec<Column>,
    /// Optional hash-diff SCD2: the columns whose change makes a new version in the view
    /// `{name}_history_changes` (the history table itself keeps every version, so that late
    /// versions can still be placed exactly). Not set: no view.
    #[serde(default)]
    pub scd2_tracked: Vec<String>,
    /// The form of the stream's landed lines: `meta` (the default) or `record`. Must be the
    /// stream's `--envelope`: the pipe reads the record from `$1:record` or `$1` by it, and
    /// the local stand-in refuses a file whose manifest says otherwise.
    #[serde(default)]
    pub envelope: Envelope,
}

impl TableSpec {
    /// Parses and validates a spec from TOML text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let spec: TableSpec =
            toml::from_str(text).map_err(|e| Error::Spec(format!("invalid TOML: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads, parses and validates a spec file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            context: format!("reading table spec {}", path.display()),
            source: e,
        })?;
        Self::parse(&text).map_err(|e| match e {
            Error::Spec(msg) => Error::Spec(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// The spec of the customers demo (the committed `specs/customers.toml`).
    pub fn customers() -> Self {
        Self::parse(include_str!("../../../specs/customers.toml"))
            .expect("specs/customers.toml is valid")
    }

    /// Raw table name (`{name}_raw`).
    pub fn raw_table(&self) -> String {
        format!("{}_raw", self.name)
    }

    /// SCD1 table name (`{name}_latest`).
    pub fn latest_table(&self) -> String {
        format!("{}_latest", self.name)
    }

    /// SCD2 table name (`{name}_history`).
    pub fn history_table(&self) -> String {
        format!("{}_history", self.name)
    }

    /// Name of the append-only stream feeding the SCD1 task (`{name}_raw_latest_stream`).
    pub fn latest_stream(&self) -> String {
        format!("{}_raw_latest_stream", self.name)
    }

    /// Name of the append-only stream feeding the SCD2 task (`{name}_raw_history_stream`).
    pub fn history_stream(&self) -> String {
        format!("{}_raw_history_stream", self.name)
    }

    /// Rejects table name (`{name}_rejects`): rows the SCD tasks cannot place.
    pub fn rejects_table(&self) -> String {
        format!("{}_rejects", self.name)
    }

    /// Name of the append-only stream feeding the rejects task (`{name}_raw_rejects_stream`).
    pub fn rejects_stream(&self) -> String {
        format!("{}_raw_rejects_stream", self.name)
    }

    /// Hash-diff SCD2 view name (`{name}_history_changes`), when `scd2_tracked` is set.
    pub fn history_changes_view(&self) -> String {
        format!("{}_history_changes", self.name)
    }

    /// The SQL (Snowflake and SQLite alike) of the hash-diff view over `history`: the
    /// versions whose tracked columns or delete flag differ from the previous version of the
    /// key, each valid until the next such version. `None` when `scd2_tracked` is empty.
    pub fn history_changes_select(&self, history: &str, upper: bool) -> Option<String> {
        if self.scd2_tracked.is_empty() {
            return None;
        }
        let id = |s: &str| {
            if upper {
                s.to_ascii_uppercase()
            } else {
                s.to_string()
            }
        };
        let keys = self
            .key
            .iter()
            .map(|k| id(k))
            .collect::<Vec<_>>()
            .join(", ");
        let cols = self.columns.iter().map(|c| id(&c.name)).collect::<Vec<_>>();
        let (vf, del) = (id("valid_from"), id("is_deleted"));
        let over = format!("OVER (PARTITION BY {keys} ORDER BY {vf})");
        let tracked: Vec<String> = self
            .scd2_tracked
            .iter()
            .map(|t| id(t))
            .chain([del.clone()])
            .collect();
        let lags: Vec<String> = tracked
            .iter()
            .map(|c| format!("LAG({c}) {over} AS PREV_{c}"))
            .collect();
        let same: Vec<String> = tracked
            .iter()
            .map(|c| format!("(v.{c} = v.PREV_{c} OR (v.{c} IS NULL AND v.PREV_{c} IS NULL))"))
            .collect();
        Some(format!(
            "SELECT {vcols}, v.{vf},
    LEAD(v.{vf}) {over} AS {valid_to},
    LEAD(v.{vf}) {over} IS NULL AS {is_current},
    v.{del}
FROM (
    SELECT h.*,
        ROW_NUMBER() {over} AS FIRST_OF_KEY,
        {lags}
    FROM {history} AS h
) AS v
WHERE v.FIRST_OF_KEY = 1 OR NOT ({same})",
            vcols = cols
                .iter()
                .map(|c| format!("v.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            valid_to = id("valid_to"),
            is_current = id("is_current"),
            lags = lags.join(",\n        "),
            same = same.join(" AND "),
        ))
    }

    /// A one-line description of everything that shapes the tables, stored in the local
    /// database so that reopening it with a different spec is caught.
    pub(crate) fn fingerprint(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{}:{:?}", c.name, c.ty))
            .collect();
        format!(
            "name={} stream={} key={} event_time={} delete={}={} columns={}",
            self.name,
            self.stream,
            self.key.join(","),
            self.event_time,
            self.delete_marker.column,
            self.delete_marker.value,
            cols.join(",")
        )
    }

    /// The column named `name`, if the spec has it.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns that are not part of the key.
    pub fn non_key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !self.key.contains(&c.name))
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| Err(Error::Spec(msg));
        for ident in [&self.name, &self.stream] {
            if !is_identifier(ident) {
                return bad(format!(
                    "`{ident}` is not a plain identifier (letters, digits, underscore)"
                ));
            }
        }
        if self.columns.is_empty() {
            return bad("the spec has no [[columns]]".into());
        }
        let reserved = [
            "valid_from",
            "valid_to",
            "is_current",
            "is_deleted",
            "file_name",
            "file_row_number",
            "stored",
            "record",
        ];
        for (i, c) in self.columns.iter().enumerate() {
            if !is_identifier(&c.name) {
                return bad(format!("column `{}` is not a plain identifier", c.name));
            }
            if reserved.contains(&c.name.to_ascii_lowercase().as_str()) {
                return bad(format!(
                    "column `{}` clashes with a generated column",
                    c.name
                ));
            }
            if self.columns[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&c.name))
            {
                return bad(format!("column `{}` is listed twice", c.name));
            }
        }
        if self.key.is_empty() {
            return bad("`key` must name at least one column".into());
        }
        for k in &self.key {
            if self.column(k).is_none() {
                return bad(format!("key column `{k}` is not in [[columns]]"));
            }
        }
        match self.column(&self.event_time) {
            None => {
                return bad(format!(
                    "event_time `{}` is not in [[columns]]",
                    self.event_time
                ));
            }
            Some(c) if self.key.contains(&c.name) => {
                return bad("event_time cannot be a key column".into());
            }
            Some(_) => {}
        }
        if self.column(&self.delete_marker.column).is_none() {
            return bad(format!(
                "delete_marker column `{}` is not in [[columns]]",
                self.delete_marker.column
            ));
        }
        for t in &self.scd2_tracked {
            match self.column(t) {
                None => return bad(format!("scd2_tracked column `{t}` is not in [[columns]]")),
                Some(c) if self.key.contains(&c.name) || c.name == self.event_time => {
                    return bad(format!(
                        "scd2_tracked column `{t}` is the key or the event time"
                    ));
                }
                Some(_) => {}
            }
        }
        if self.delete_marker.value.contains('\'') {
            return bad("delete_marker value must not contain a quote".into());
        }
        Ok(())
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: safe to splice into SQL unquoted.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_spec_parses() {
        let spec = TableSpec::customers();
        assert_eq!(spec.key, vec!["id".to_string()]);
        assert_eq!(spec.column("updated_at").unwrap().ty, ColumnType::Timestamp);
        assert_eq!(spec.latest_table(), "customers_latest");
        assert_eq!(spec.non_key_columns().count(), spec.columns.len() - 1);
    }

    #[test]
    fn rejects_unknown_key_and_bad_names() {
        let base = include_str!("../../../specs/customers.toml");
        let e = TableSpec::parse(&base.replace("key = [\"id\"]", "key = [\"nope\"]")).unwrap_err();
        assert!(e.to_string().contains("key column `nope`"), "{e}");
        let e =
            TableSpec::parse(&base.replace("name = \"customers\"", "name = \"a;b\"")).unwrap_err();
        assert!(e.to_string().contains("plain identifier"), "{e}");
        let e =
            TableSpec::parse(&base.replace("type = \"integer\"", "type = \"int\"")).unwrap_err();
        assert!(e.to_string().contains("invalid TOML"), "{e}");
    }
}
