//! The TOML file: the same settings as the flags, by their TOML key (the flag's name with
//! `_` for `-`), plus `[s3_api]` and `[[streams]]` tables. A key no setting knows is an error
//! that names it, so a typo never silently falls back to a default.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use super::args::{ListenerArgs, S3ApiArgs, SinkArgs, SnowpipeArgs, SpoolArgs, StreamArgs};

/// The file's layer of every group.
#[derive(Debug, Clone, Default)]
pub struct FileLayer {
    pub listener: ListenerArgs,
    pub spool: SpoolArgs,
    pub sink: SinkArgs,
    pub stream: StreamArgs,
    pub snowpipe: SnowpipeArgs,
    pub s3_api: S3ApiArgs,
    /// `[[streams]]` tables in file order: the stream's name and its own settings.
    pub streams: Vec<(String, StreamArgs)>,
}

/// Reads and checks the file.
pub fn load(path: &Path) -> Result<FileLayer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing config file {}", path.display()))
}

fn parse(text: &str) -> Result<FileLayer> {
    let mut top: toml::Table = toml::from_str(text)?;
    let s3_api = top.remove("s3_api");
    let streams = top.remove("streams");

    // Each top-level key must be a setting of some group: collect what each group ignored
    // and complain about the keys every group ignored.
    let top = toml::Value::Table(top);
    let mut unknown: Option<BTreeSet<String>> = None;
    let mut keep = |ignored: BTreeSet<String>| {
        unknown = Some(match unknown.take() {
            None => ignored,
            Some(u) => u.intersection(&ignored).cloned().collect(),
        });
    };
    let listener = group(&top, &mut keep)?;
    let spool = group(&top, &mut keep)?;
    let sink = group(&top, &mut keep)?;
    let stream = group(&top, &mut keep)?;
    let snowpipe = group(&top, &mut keep)?;
    if let Some(keys) = unknown.filter(|u| !u.is_empty()) {
        bail!("unknown setting(s) {}", list(&keys));
    }

    let s3_api = match s3_api {
        None => S3ApiArgs::default(),
        Some(v) => strict(v, "the [s3_api] table")?,
    };
    let streams = match streams {
        None => Vec::new(),
        Some(toml::Value::Array(tables)) => tables
            .into_iter()
            .map(stream_table)
            .collect::<Result<_>>()?,
        Some(_) => bail!("`streams` must be an array of tables ([[streams]])"),
    };
    Ok(FileLayer {
        listener,
        spool,
        sink,
        stream,
        snowpipe,
        s3_api,
        streams,
    })
}

/// One `[[streams]]` table: `name` and that stream's settings, nothing else.
/// A bare name (`streams = ["orders"]`) is a stream with the top-level settings.
fn stream_table(v: toml::Value) -> Result<(String, StreamArgs)> {
    let mut t = match v {
        toml::Value::Table(t) => t,
        toml::Value::String(name) if !name.trim().is_empty() => {
            return Ok((name.trim().to_owned(), StreamArgs::default()));
        }
        _ => bail!("each [[streams]] entry must be a table (or `streams` a list of names)"),
    };
    let name = match t.remove("name") {
        Some(toml::Value::String(n)) if !n.trim().is_empty() => n.trim().to_owned(),
        _ => bail!("each [[streams]] table needs name = \"STREAM\""),
    };
    let args = strict(
        toml::Value::Table(t),
        &format!("[[streams]] table {name:?}"),
    )?;
    Ok((name, args))
}

/// Deserializes one group from the top-level table, reporting the keys it did not use.
fn group<T: DeserializeOwned>(
    top: &toml::Value,
    keep: &mut impl FnMut(BTreeSet<String>),
) -> Result<T> {
    let mut ignored = BTreeSet::new();
    let value = serde_ignored::deserialize(top.clone(), |path| {
        ignored.insert(path.to_string());
    })?;
    keep(ignored);
    Ok(value)
}

/// Deserializes a table that belongs to one group alone: any key it does not know is an error.
fn strict<T: DeserializeOwned>(v: toml::Value, what: &str) -> Result<T> {
    let mut ignored = BTreeSet::new();
    let value = serde_ignored::deserialize(v, |path| {
        ignored.insert(path.to_string());
    })
    .with_context(|| format!("in {what}"))?;
    if !ignored.is_empty() {
        bail!("unknown setting(s) {} in {what}", list(&ignored));
    }
    Ok(value)
}

fn list(keys: &BTreeSet<String>) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_land_in_their_groups_and_unknown_keys_are_named() {
        let f = parse(
            "listen = \"127.0.0.1:9\"\nbatch_max_records = 5\nformat = \"csv\"\n\
             [s3_api]\nlisten = \"127.0.0.1:10\"\ncredentials = [\"A:B\", \"C:D\"]\n\
             [[streams]]\nname = \"orders\"\npass_through = true\n",
        )
        .unwrap();
        assert_eq!(f.listener.listen.unwrap().port(), 9);
        assert_eq!(f.stream.batch_max_records, Some(5));
        assert_eq!(f.stream.format, Some(super::super::value::Format::Csv));
        assert_eq!(f.s3_api.s3_listen.unwrap().port(), 10);
        assert_eq!(f.s3_api.s3_credentials.unwrap().0, ["A:B", "C:D"]);
        assert_eq!(f.streams[0].0, "orders");
        assert_eq!(f.streams[0].1.pass_through, Some(true));

        let e = parse("listen_port = 8080\nlisten = \"127.0.0.1:9\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("`listen_port`"), "{e:#}");
        let e = parse("[s3_api]\nregoin = \"x\"\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("`regoin` in the [s3_api] table"),
            "{e:#}"
        );
        let e = parse("[[streams]]\nname = \"o\"\nack = \"sometimes\"\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("durable, landed or received"),
            "{e:#}"
        );
        let e = parse("[[streams]]\nformat = \"csv\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("needs name"), "{e:#}");
    }
}
