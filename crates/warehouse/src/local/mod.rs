//! The embedded warehouse: a SQLite file holding the raw table, load history, stream
//! offsets and the SCD1/SCD2 tables of one [`TableSpec`].

mod migrate;
mod oracle;
mod pipe;
mod read;
mod schema;
mod tasks;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, SqlContext};
use crate::spec::TableSpec;

pub use pipe::{FileError, LoadReport};
pub use read::{Counts, QueryResult};
pub use tasks::TaskReport;

/// The local stand-in for Snowpipe + streams + tasks over one SQLite file.
///
/// The file is a plain SQLite database (`sqlite3 data/warehouse.db` opens it) with the
/// tables `{name}_raw`, `{name}_latest`, `{name}_history`, `{name}_rejects`, `load_history` and
/// `stream_offsets`.
pub struct Warehouse {
    conn: Connection,
    spec: TableSpec,
    path: PathBuf,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("path", &self.path)
            .field("table", &self.spec.name)
            .finish()
    }
}

impl Warehouse {
    /// Opens (creating if needed) the database at `db_path` for `spec`. Fails with
    /// [`Error::SpecMismatch`] if the file was created for a different spec.
    pub fn open(db_path: &Path, spec: &TableSpec) -> Result<Self, Error> {
        if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::Io {
                context: format!("creating {}", parent.display()),
                source: e,
            })?;
        }
        let conn = Connection::open(db_path).ctx(&format!("opening {}", db_path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .ctx("setting busy timeout")?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .ctx("enabling WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .ctx("setting synchronous")?;
        let mut wh = Warehouse {
            conn,
            spec: spec.clone(),
            path: db_path.to_path_buf(),
        };
        schema::create(&mut wh.conn, &wh.spec, &wh.path)?;
        Ok(wh)
    }

    /// The table spec this warehouse was opened with.
    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    /// Path of the SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The local pipe: loads every landed file under `dir` not loaded before (see
    /// [`LoadReport`]), then returns what it did.
    pub fn load_new_files(&mut self, dir: &Path) -> Result<LoadReport, Error> {
        pipe::load_new_files(&mut self.conn, &self.spec, dir)
    }

    /// Runs the SCD1 and SCD2 tasks until both streams are drained.
    pub fn run_tasks(&mut self) -> Result<TaskReport, Error> {
        self.run_tasks_with_hook(|_, _| Ok(()))
    }

    /// [`Warehouse::run_tasks`] with a hook called after each row a task applies, with the
    /// task name (`"scd1"` or `"scd2"`) and the number of rows applied so far in the batch.
    /// An error from the hook aborts the batch: its transaction rolls back, so neither the
    /// table changes nor the stream offset advance are kept. Meant for fault injection.
    pub fn run_tasks_with_hook(
        &mut self,
        mut hook: impl FnMut(&str, usize) -> Result<(), Error>,
    ) -> Result<TaskReport, Error> {
        tasks::run(&mut self.conn, &self.spec, &mut hook)
    }

    /// Loads new files from `dir` and runs the tasks: one tick of the local pipeline.
    pub fn sync(&mut self, dir: &Path) -> Result<(LoadReport, TaskReport), Error> {
        let load = self.load_new_files(dir)?;
        let tasks = self.run_tasks()?;
        Ok((load, tasks))
    }

    /// Row counts of the raw, latest and history tables.
    pub fn counts(&self) -> Result<Counts, Error> {
        read::counts(&self.conn, &self.spec)
    }

    /// Runs one read-only SQL statement (for `snowstream query`).
    pub fn query(&self, sql: &str) -> Result<QueryResult, Error> {
        read::query(&self.conn, sql)
    }

    /// The SCD1 table in the oracle's format (contract 3), sorted by key.
    pub fn latest_rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
        read::latest_rows(&self.conn, &self.spec)
    }

    /// The SCD2 table in the oracle's format (contract 3), sorted by key then `valid_from`.
    pub fn history_rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
        read::history_rows(&self.conn, &self.spec)
    }

    /// The rejects table (rows whose key or event time is missing or not in an accepted
    /// form) as `{file_name, file_row_number, reason, record}` objects, sorted by file name
    /// then row number.
    pub fn rejects_rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
        read::rejects_rows(&self.conn, &self.spec)
    }

    /// Compares both tables with an oracle file's text (`snowstream-gen … --expect FILE`,
    /// contract 3) on the oracle's columns. Returns readable differences; empty when equal.
    pub fn diff_against_oracle(&self, oracle_ndjson: &str) -> Result<Vec<String>, Error> {
        oracle::diff(&self.latest_rows()?, &self.history_rows()?, oracle_ndjson)
    }

    /// Both tables as oracle lines: `{"table":"latest","row":{…}}` then
    /// `{"table":"history","row":{…}}`, the format of `snowstream-gen --expect`.
    pub fn oracle_lines(&self) -> Result<Vec<serde_json::Value>, Error> {
        let mut out = Vec::new();
        for row in self.latest_rows()? {
            out.push(serde_json::json!({"table": "latest", "row": row}));
        }
        for row in self.history_rows()? {
            out.push(serde_json::json!({"table": "history", "row": row}));
        }
        Ok(out)
    }
}
