//! Loading the files an `insertFiles` call names, exactly once by the warehouse's load history,
//! and remembering the outcomes for `insertReport` / `loadHistoryScan`.
//!
//! The files of a call are hard-linked (or copied) from the landing folder into an empty
//! staging folder under the same relative paths, and the local pipe loads that folder: file names in the
//! raw table and load history are the same as when the whole landing folder is loaded, so a
//! file loaded either way is never loaded twice.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use snowpipe::FileReport;

use crate::Warehouse;
use crate::error::Error;

/// Snowflake keeps at most this many `insertReport` events…
const MAX_EVENTS: usize = 10_000;
/// …for at most this long.
const EVENT_MINUTES: i64 = 10;

/// The outcome of one file, in Snowpipe's report format.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub entry: FileReport,
}

pub(crate) struct PipeState {
    pub warehouse: Warehouse,
    pub landing_dir: PathBuf,
    /// The pipe's location under the stage, `''` or ending in `/`: paths are relative to it.
    pub location: String,
    pub stage_dir: PathBuf,
    pub run_tasks: bool,
    pub events: VecDeque<Event>,
    /// Failed files (not in the load history), for `loadHistoryScan`.
    pub failures: VecDeque<Event>,
    pub next_seq: u64,
}

fn now_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a path cannot name a landed file.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err("the path must be relative to the stage, '/'-separated, without '.' or '..'");
    }
    if !records::landed::is_data_file(path) {
        return Err("not a landed data file (*.ndjson.zst or *.ndjson.gz)");
    }
    Ok(())
}

fn reset_dir(dir: &Path) -> Result<(), Error> {
    let io = |context: &str, source| Error::Io {
        context: format!("{context} {}", dir.display()),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("emptying the staging folder", e)),
    }
    std::fs::create_dir_all(dir).map_err(|e| io("creating the staging folder", e))
}

impl PipeState {
    pub fn new(
        warehouse: Warehouse,
        landing_dir: PathBuf,
        location: &str,
        run_tasks: bool,
    ) -> Result<Self, Error> {
        let location = match location.trim_matches('/') {
            "" => String::new(),
            l => format!("{l}/"),
        };
        let mut stage = warehouse.path().as_os_str().to_owned();
        stage.push(".rest-stage");
        let stage_dir = PathBuf::from(stage);
        reset_dir(&stage_dir)?;
        Ok(PipeState {
            warehouse,
            landing_dir,
            location,
            stage_dir,
            run_tasks,
            events: VecDeque::new(),
            failures: VecDeque::new(),
            next_seq: 1,
        })
    }

    fn record(&mut self, entry: FileReport, failed: bool) {
        let now = Utc::now();
        let ev = Event {
            seq: self.next_seq,
            at: now,
            entry,
        };
        self.next_seq += 1;
        if failed {
            self.failures.push_back(ev.clone());
            if self.failures.len() > MAX_EVENTS {
                self.failures.pop_front();
            }
        }
        self.events.push_back(ev);
        self.expire(now);
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        let horizon = now - ChronoDuration::minutes(EVENT_MINUTES);
        while self
            .events
            .front()
            .is_some_and(|e| e.at < horizon || self.events.len() > MAX_EVENTS)
        {
            self.events.pop_front();
        }
    }

    fn entry(&self, path: &str, size: u64, received: &str, status: &str) -> FileReport {
        FileReport {
            path: path.to_owned(),
            stage_location: Some(format!("{}/{}", self.landing_dir.display(), self.location)),
            file_size: Some(size),
            time_received: Some(received.to_owned()),
            last_insert_time: Some(now_text(Utc::now())),
            rows_inserted: Some(0),
            rows_parsed: Some(0),
            errors_seen: Some(0),
            error_limit: Some(1),
            complete: Some(true),
            status: status.to_owned(),
            ..FileReport::default()
        }
    }

    /// Load-history rows (rows, errors) of `names`.
    fn history_of(&self, names: &[&str]) -> Result<HashMap<String, (u64, u64)>, Error> {
        let mut out = HashMap::new();
        for chunk in names.chunks(500) {
            let list: Vec<String> = chunk
                .iter()
                .map(|n| format!("'{}'", n.replace('\'', "''")))
                .collect();
            let rows = self.warehouse.query(&format!(
                "SELECT file_name, row_count, error_count FROM load_history WHERE file_name IN ({})",
                list.join(",")
            ))?;
            for r in rows.rows {
                out.insert(
                    r[0].as_str().unwrap_or_default().to_owned(),
                    (r[1].as_u64().unwrap_or(0), r[2].as_u64().unwrap_or(0)),
                );
            }
        }
        Ok(out)
    }

    /// Loads the named files (each at most once, ever) and records their outcomes. Returns the
    /// paths the pipe's PATTERN does not match (not landed data files), skipped without an
    /// event, as Snowpipe answers them in `unmatchedPatternFiles`.
    pub fn insert_files(&mut self, paths: &[String]) -> Result<Vec<String>, Error> {
        let received = now_text(Utc::now());
        reset_dir(&self.stage_dir)?;
        // (the path as sent, the file under the stage, its size)
        let mut staged: Vec<(&str, String, u64)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut unmatched = Vec::new();
        for path in paths {
            if !seen.insert(path.as_str()) {
                continue;
            }
            if !records::landed::is_data_file(path) {
                unmatched.push(path.clone());
                continue;
            }
            if let Err(reason) = check_path(path) {
                self.fail(path, 0, &received, reason.to_owned());
                continue;
            }
            // Relative to the pipe's location, as Snowflake resolves it: a path that repeats
            // the location (`customers/customers/…`) names no file.
            let in_stage = format!("{}{path}", self.location);
            let src = self.landing_dir.join(&in_stage);
            let size = match std::fs::metadata(&src) {
                Ok(m) if m.is_file() => m.len(),
                _ => {
                    self.fail(
                        path,
                        0,
                        &received,
                        format!(
                            "Remote file '{path}' was not found under the pipe's location '{}'.",
                            self.location
                        ),
                    );
                    continue;
                }
            };
            let dest = self.stage_dir.join(&in_stage);
            let linked = dest
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    std::fs::hard_link(&src, &dest)
                        .or_else(|_| std::fs::copy(&src, &dest).map(|_| ()))
                });
            // The manifest comes along (when there is one): the pipe checks its envelope.
            let manifest =
                |p: &Path| PathBuf::from(records::landed::manifest_key(&p.to_string_lossy()));
            if linked.is_ok() && manifest(&src).is_file() {
                let _ = std::fs::hard_link(manifest(&src), manifest(&dest))
                    .or_else(|_| std::fs::copy(manifest(&src), manifest(&dest)).map(|_| ()));
            }
            match linked {
                Ok(()) => staged.push((path, in_stage, size)),
                Err(e) => self.fail(path, size, &received, format!("cannot stage the file: {e}")),
            }
        }
        // The warehouse's load history names files by their place in the stage.
        let names: Vec<&str> = staged.iter().map(|(_, s, _)| s.as_str()).collect();
        let before = self.history_of(&names)?;
        let report = self.warehouse.load_new_files(&self.stage_dir)?;
        let after = self.history_of(&names)?;
        reset_dir(&self.stage_dir)?;
        let failed: HashMap<&str, &str> = report
            .failed
            .iter()
            .map(|f| (f.file_name.as_str(), f.error.as_str()))
            .collect();
        for (path, in_stage, size) in staged {
            if before.contains_key(&in_stage) {
                // Like Snowpipe: a file in the load history is skipped without an event.
                tracing::debug!(file = %path, "pipe skipped a file it already loaded");
            } else if let Some(&(rows, rejected)) = after.get(&in_stage) {
                let status = if rejected == 0 {
                    "LOADED"
                } else {
                    "PARTIALLY_LOADED"
                };
                let mut entry = self.entry(path, size, &received, status);
                entry.rows_inserted = Some(rows);
                entry.rows_parsed = Some(rows + rejected);
                entry.errors_seen = Some(rejected);
                if rejected > 0 {
                    entry.first_error = Some(format!(
                        "{rejected} line(s) are not a JSON object with a \"record\" object"
                    ));
                }
                tracing::info!(file = %path, rows, rejected, "pipe loaded file");
                self.record(entry, false);
            } else {
                let error = failed
                    .get(in_stage.as_str())
                    .map_or("the staged file was not picked up".to_owned(), |e| {
                        (*e).to_owned()
                    });
                self.fail(path, size, &received, error);
            }
        }
        if report.files_loaded > 0 && self.run_tasks {
            self.warehouse.run_tasks()?;
        }
        Ok(unmatched)
    }

    fn fail(&mut self, path: &str, size: u64, received: &str, error: String) {
        tracing::warn!(file = %path, %error, "pipe could not load file");
        let mut entry = self.entry(path, size, received, "LOAD_FAILED");
        entry.errors_seen = Some(1);
        entry.first_error = Some(error);
        self.record(entry, true);
    }

    /// `insertReport`: events from `begin_mark` on (all kept ones without), and the next mark.
    pub fn report(&mut self, begin_mark: Option<u64>) -> (Vec<FileReport>, u64) {
        self.expire(Utc::now());
        let from = begin_mark.unwrap_or(0);
        let files = self
            .events
            .iter()
            .filter(|e| e.seq >= from)
            .map(|e| e.entry.clone())
            .collect();
        (files, self.next_seq)
    }

    /// `loadHistoryScan`: loads (from the load history) and failures in `[start, end)`.
    pub fn history(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<FileReport>, bool), Error> {
        let (s, e) = (now_text(start), now_text(end));
        let rows = self.warehouse.query(&format!(
            "SELECT file_name, row_count, error_count, bytes, loaded_at FROM load_history \
             WHERE loaded_at >= '{s}' AND loaded_at < '{e}' ORDER BY loaded_at LIMIT {}",
            MAX_EVENTS + 1
        ))?;
        let complete = rows.rows.len() <= MAX_EVENTS;
        let mut files = Vec::new();
        for r in rows.rows.into_iter().take(MAX_EVENTS) {
            let errors = r[2].as_u64().unwrap_or(0);
            let rows_in = r[1].as_u64().unwrap_or(0);
            let at = r[4].as_str().unwrap_or_default().to_owned();
            // Paths as insertFiles takes them: relative to the pipe's location.
            let name = r[0].as_str().unwrap_or_default();
            let name = name.strip_prefix(self.location.as_str()).unwrap_or(name);
            let mut entry = self.entry(
                name,
                r[3].as_u64().unwrap_or(0),
                &at,
                if errors == 0 {
                    "LOADED"
                } else {
                    "PARTIALLY_LOADED"
                },
            );
            entry.last_insert_time = Some(at);
            entry.rows_inserted = Some(rows_in);
            entry.rows_parsed = Some(rows_in + errors);
            entry.errors_seen = Some(errors);
            files.push(entry);
        }
        for f in &self.failures {
            if f.at >= start && f.at < end && files.len() < MAX_EVENTS {
                files.push(f.entry.clone());
            }
        }
        Ok((files, complete))
    }
}

#[cfg(test)]
mod tests {
    use super::check_path;

    /// insertFiles stages a record-envelope file with its manifest, so a `record` spec loads
    /// it (the pipe checks the manifest's envelope).
    #[test]
    fn record_envelope_files_load_with_their_manifest() {
        use records::landed::{Codec, Envelope, LandedKey, LineWriter, Manifest, manifest_key};
        let tmp = tempfile::tempdir().unwrap();
        let landing = tmp.path().join("landing");
        let key = LandedKey::new("", "customers", "ss-1", 0, 1, Codec::Zstd).to_string();
        let mut w = LineWriter::new("customers", "ss-1").with_envelope(Envelope::Record);
        let mut text = Vec::new();
        for id in [1, 2] {
            let r = format!(r#"{{"id":{id},"updated_at":"2026-11-24T13:00:00.000Z","op":"I"}}"#);
            text.extend_from_slice(w.line(r.as_bytes(), id, "", b"{}"));
        }
        let path = landing.join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
        let manifest = Manifest {
            key: key.clone(),
            stream: "customers".into(),
            instance: "ss-1".into(),
            records: 2,
            first_seq: 1,
            last_seq: 2,
            uncompressed_bytes: text.len() as u64,
            bytes: 0,
            sha256: String::new(),
            compression: Codec::Zstd,
            created_at: "2026-11-24T13:45:01.123Z".into(),
            envelope: Envelope::Record,
        };
        std::fs::write(
            landing.join(manifest_key(&key)),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        let spec = crate::TableSpec {
            envelope: Envelope::Record,
            ..crate::TableSpec::customers()
        };
        let wh = crate::Warehouse::open(&tmp.path().join("wh.db"), &spec).unwrap();
        let mut pipe = super::PipeState::new(wh, landing, "customers", true).unwrap();
        let path = key.strip_prefix("customers/").unwrap().to_owned();
        pipe.insert_files(&[path]).unwrap();
        let (files, _) = pipe.report(None);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].status, "LOADED", "{files:?}");
        assert_eq!(files[0].rows_inserted, Some(2));
    }

    #[test]
    fn paths_are_checked() {
        check_path("customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst").unwrap();
        check_path("x.ndjson.gz").unwrap();
        for bad in [
            "",
            "/abs/x.ndjson.zst",
            "../x.ndjson.zst",
            "a//x.ndjson.zst",
            "a/x.ndjson.zst.manifest.json",
            "a/.x.ndjson.zst",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
