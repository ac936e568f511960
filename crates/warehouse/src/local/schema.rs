//! DDL of the local database, derived from the table spec: the columns a spec migration
//! appends included (`migrate` then backfills them).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, SqlContext};
use crate::spec::{ColumnType, TableSpec};

fn sqlite_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Float => "REAL",
        ColumnType::String | ColumnType::Timestamp => "TEXT",
    }
}

pub(super) fn create(conn: &mut Connection, spec: &TableSpec, path: &Path) -> Result<(), Error> {
    let tx = conn.transaction().ctx("starting schema transaction")?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS warehouse_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS load_history (
            file_name TEXT PRIMARY KEY,
            row_count INTEGER NOT NULL,
            error_count INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            loaded_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS stream_offsets (
            stream_name TEXT PRIMARY KEY,
            source_table TEXT NOT NULL,
            last_raw_id INTEGER NOT NULL
        );",
    )
    .ctx("creating bookkeeping tables")?;

    let fingerprint = spec.fingerprint();
    let stored: Option<String> = tx
        .query_row(
            "SELECT value FROM warehouse_meta WHERE key = 'spec'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading stored spec")?;
    let mut added = Vec::new();
    match stored {
        Some(s) if s != fingerprint => {
            // Columns appended to the spec are a migration (the same the Snowflake renderer
            // makes): added below, backfilled from the raw records. Anything else is refused.
            added = crate::migrate::added_columns(&s, spec).map_err(|why| Error::SpecMismatch {
                path: path.display().to_string(),
                detail: format!("{why} (stored `{s}`, given `{fingerprint}`)"),
            })?;
            tx.execute(
                "UPDATE warehouse_meta SET value = ?1 WHERE key = 'spec'",
                [&fingerprint],
            )
            .ctx("storing migrated spec")?;
        }
        Some(_) => {}
        None => {
            tx.execute(
                "INSERT INTO warehouse_meta (key, value) VALUES ('spec', ?1)",
                [&fingerprint],
            )
            .ctx("storing spec")?;
        }
    }

    let cols: Vec<String> = spec
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, sqlite_type(c.ty)))
        .collect();
    let cols = cols.join(",\n    ");
    let key = spec.key.join(", ");
    let raw = spec.raw_table();
    let latest = spec.latest_table();
    let history = spec.history_table();
    let rejects = spec.rejects_table();
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {raw} (
    raw_id INTEGER PRIMARY KEY AUTOINCREMENT,
    record TEXT NOT NULL,
    meta TEXT,
    file_name TEXT NOT NULL,
    file_row_number INTEGER NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {latest} (
    {cols},
    is_deleted INTEGER NOT NULL,
    PRIMARY KEY ({key})
);
CREATE TABLE IF NOT EXISTS {history} (
    {cols},
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    is_current INTEGER NOT NULL,
    is_deleted INTEGER NOT NULL,
    PRIMARY KEY ({key}, valid_from)
);
CREATE TABLE IF NOT EXISTS {rejects} (
    file_name TEXT NOT NULL,
    file_row_number INTEGER NOT NULL,
    reason TEXT NOT NULL,
    record TEXT,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (file_name, file_row_number)
);"
    ))
    .ctx("creating tables")?;
    if !added.is_empty() {
        for table in [&latest, &history] {
            for c in &added {
                tx.execute(
                    &format!(
                        "ALTER TABLE {table} ADD COLUMN {} {}",
                        c.name,
                        sqlite_type(c.ty)
                    ),
                    [],
                )
                .ctx("adding a migrated column")?;
            }
        }
        super::migrate::backfill(&tx, spec, &added)?;
    }
    let view = spec.history_changes_view();
    tx.execute_batch(&format!("DROP VIEW IF EXISTS {view};"))
        .ctx("dropping the hash-diff view")?;
    if let Some(select) = spec.history_changes_select(&history, false) {
        tx.execute_batch(&format!("CREATE VIEW {view} AS {select};"))
            .ctx("creating the hash-diff view")?;
    }
    for stream in [
        spec.latest_stream(),
        spec.history_stream(),
        spec.rejects_stream(),
    ] {
        tx.execute(
            "INSERT OR IGNORE INTO stream_offsets (stream_name, source_table, last_raw_id)
             VALUES (?1, ?2, 0)",
            [&stream, &raw],
        )
        .ctx("creating stream offsets")?;
    }
    tx.commit().ctx("committing schema")
}
