//! The local pipe: finds landed files and loads each exactly once into the raw table,
//! recording it in `load_history` in the same transaction (like Snowpipe's load history).

use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use records::landed::{self, Envelope, LandedLine, is_data_file};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::value::RawValue;

use crate::error::{Error, SqlContext};
use crate::spec::TableSpec;

/// Upper bound on directory depth scanned (landing uses `{stream}/dt=…/hh=…/file`).
const MAX_DEPTH: usize = 16;

/// What one run of the local pipe did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Files loaded by this run.
    pub files_loaded: usize,
    /// Rows inserted into the raw table.
    pub rows_loaded: u64,
    /// Lines that were not a landed line of their file's envelope: a JSON object with a
    /// `record` object (`meta`), a JSON object (`record`). Skipped, like
    /// `ON_ERROR = CONTINUE`.
    pub rows_rejected: u64,
    /// Files seen that were already in the load history.
    pub files_already_loaded: usize,
    /// Files that could not be read or decompressed; not recorded, retried next run.
    pub failed: Vec<FileError>,
}

/// A file the pipe could not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// File name relative to the scanned folder.
    pub file_name: String,
    /// Why.
    pub error: String,
}

/// Scans `dir/{stream}` (or `dir` itself when it has no such subfolder) and loads new files.
/// File names in the raw table and load history are relative to `dir`, with `/`. Like the
/// Snowflake pipe's `PATTERN` (`.*/…`, matched against the path after `@stage/{stream}/`),
/// a file must sit in a subfolder of the stream folder: one directly in it is not loaded.
pub(super) fn load_new_files(
    conn: &mut Connection,
    spec: &TableSpec,
    dir: &Path,
) -> Result<LoadReport, Error> {
    let mut report = LoadReport::default();
    if !dir.exists() {
        return Ok(report);
    }
    let stream_dir = dir.join(&spec.stream);
    let root = if stream_dir.is_dir() {
        stream_dir
    } else {
        dir.to_path_buf()
    };
    let mut files = Vec::new();
    collect(&root, 0, &mut files)?;
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| (relative_name(dir, &p), p))
        .collect();
    named.sort();

    for (name, path) in named {
        let seen: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM load_history WHERE file_name = ?1",
                [&name],
                |r| r.get(0),
            )
            .optional()
            .ctx("reading load history")?;
        if seen.is_some() {
            report.files_already_loaded += 1;
            continue;
        }
        let envelope = match file_envelope(spec, &path) {
            Ok(e) => e,
            Err(e) => {
                report.failed.push(FileError {
                    file_name: name,
                    error: e,
                });
                continue;
            }
        };
        let (bytes, text) = match read_landed(&path) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "cannot load landed file; will retry");
                report.failed.push(FileError {
                    file_name: name,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let (rows, rejected) = load_one(conn, spec, envelope, &name, bytes, &text)?;
        report.files_loaded += 1;
        report.rows_loaded += rows;
        report.rows_rejected += rejected;
    }
    Ok(report)
}

/// The envelope of the data file at `path`, from the manifest beside it, checked against the
/// spec's: a file of the other envelope is refused loudly (an error, every run, until the spec
/// or the stream is fixed) instead of loading garbage. Without a manifest (one not written
/// yet, or a file from before manifests) a `meta` spec loads the file as `meta` lines, and a
/// `record` spec waits for the manifest.
fn file_envelope(spec: &TableSpec, path: &Path) -> Result<Envelope, String> {
    let manifest_path = PathBuf::from(landed::manifest_key(&path.to_string_lossy()));
    let text = match std::fs::read(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match spec.envelope {
                Envelope::Meta => Ok(Envelope::Meta),
                Envelope::Record => {
                    let error = "no manifest beside it (yet): a record-envelope file is loaded \
                                 only with its manifest; will retry";
                    tracing::warn!(file = %path.display(), error);
                    Err(error.into())
                }
            };
        }
        Err(e) => return Err(format!("reading {}: {e}", manifest_path.display())),
    };
    /// The one manifest field the pipe needs (`records::landed::Manifest::envelope`); read
    /// alone so that a manifest with fields added later still loads.
    #[derive(serde::Deserialize)]
    struct EnvelopeField {
        #[serde(default)]
        envelope: Envelope,
    }
    let manifest: EnvelopeField = serde_json::from_slice(&text)
        .map_err(|e| format!("bad manifest {}: {e}", manifest_path.display()))?;
    if manifest.envelope != spec.envelope {
        let error = format!(
            "refused: its manifest says envelope {} but the table spec of {} says {}; the \
             spec's `envelope` must be the stream's --envelope",
            manifest.envelope, spec.name, spec.envelope
        );
        tracing::error!(file = %path.display(), %error, "not loading a landed file");
        return Err(error);
    }
    Ok(manifest.envelope)
}

/// Why Snowflake's JSON parser would refuse `line`, if it would.
fn json_parse_error(line: &str) -> Option<String> {
    if let Err(e) = serde_json::from_str::<&RawValue>(line) {
        return Some(e.to_string());
    }
    records::duplicate_key(line.as_bytes()).map(|k| format!("duplicate object key {k:?}"))
}

/// Loads one file's lines (written in `envelope`) and its load-history row in one
/// transaction. A `record` line has no META (NULL), like the Snowflake pipe's.
fn load_one(
    conn: &mut Connection,
    spec: &TableSpec,
    envelope: Envelope,
    name: &str,
    bytes: u64,
    text: &str,
) -> Result<(u64, u64), Error> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let tx = conn.transaction().ctx("starting load transaction")?;
    let (mut rows, mut rejected) = (0u64, 0u64);
    {
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {} (record, meta, file_name, file_row_number, loaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                spec.raw_table()
            ))
            .ctx("preparing raw insert")?;
        for (row, line) in landed::lines(text) {
            // Snowflake's JSON parser (ON_ERROR = CONTINUE): a line that is not JSON, or an
            // object with a key twice (ALLOW_DUPLICATE = FALSE), loads the rows before it and
            // skips the rest of the file ("COPY INTO <table>", ON_ERROR, for JSON).
            if let Some(why) = json_parse_error(line) {
                tracing::warn!(file = %name, line = row, error = %why,
                    "JSON parse error: the rest of the file is skipped, as Snowflake does");
                rejected += 1;
                break;
            }
            match LandedLine::parse_in(envelope, line) {
                Ok(l) => {
                    insert
                        .execute(params![
                            l.record.get(),
                            l.meta.map(RawValue::get),
                            name,
                            row as i64,
                            now
                        ])
                        .ctx("inserting raw row")?;
                    rows += 1;
                }
                Err(e) => {
                    tracing::warn!(file = %name, line = row, %envelope, error = %e, "skipping line that is not a landed line of its envelope");
                    rejected += 1;
                }
            }
        }
    }
    tx.execute(
        "INSERT INTO load_history (file_name, row_count, error_count, bytes, loaded_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, rows as i64, rejected as i64, bytes as i64, now],
    )
    .ctx("recording load history")?;
    tx.commit().ctx("committing load")?;
    tracing::debug!(file = %name, rows, "loaded landed file");
    Ok((rows, rejected))
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io {
        context: format!("listing landing folder {}", dir.display()),
        source: e,
    })?;
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if !name.starts_with('.') {
                collect(&entry.path(), depth + 1, out)?;
            }
        } else if ft.is_file() && is_data_file(&name) {
            if depth == 0 {
                tracing::warn!(file = %entry.path().display(), "not loading a file directly in the stream folder (the Snowflake pipe's PATTERN needs a subfolder)");
                continue;
            }
            out.push(entry.path());
        }
    }
    Ok(())
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads and decompresses a landed file: (stored bytes, text).
fn read_landed(path: &Path) -> Result<(u64, String), landed::ReadError> {
    let file = landed::open(path)?;
    let bytes = file.stored_bytes();
    Ok((bytes, file.read_text()?))
}
