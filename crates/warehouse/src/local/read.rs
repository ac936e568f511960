//! Reading the local warehouse: counts, ad-hoc read-only queries, and the SCD tables in
//! the oracle's JSON format.

use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::{Map, Value as Json};

use crate::error::{Error, SqlContext};
use crate::spec::{ColumnType, TableSpec};
use crate::typing::to_json;

/// Row counts of the three tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows in `{name}_raw`.
    pub raw: u64,
    /// Rows in `{name}_latest`.
    pub latest: u64,
    /// Rows in `{name}_history`.
    pub history: u64,
    /// Rows in `{name}_rejects`: raw rows whose key or event time is missing or not in an
    /// accepted form (the stand-in's rejects metric).
    pub rejects: u64,
}

/// Result of [`crate::Warehouse::query`]: column names and rows of JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    /// Column names in select order.
    pub columns: Vec<String>,
    /// Rows; integers and reals as JSON numbers, text as strings, NULL as null, blobs as
    /// lossy UTF-8 strings.
    pub rows: Vec<Vec<Json>>,
}

/// Cap on rows returned by [`query`] so a `SELECT *` cannot exhaust memory.
const MAX_QUERY_ROWS: usize = 100_000;

pub(super) fn counts(conn: &Connection, spec: &TableSpec) -> Result<Counts, Error> {
    let count = |table: String| -> Result<u64, Error> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .ctx(&format!("counting {table}"))
        .map(|n| n as u64)
    };
    Ok(Counts {
        raw: count(spec.raw_table())?,
        latest: count(spec.latest_table())?,
        history: count(spec.history_table())?,
        rejects: count(spec.rejects_table())?,
    })
}

pub(super) fn query(conn: &Connection, sql: &str) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare(sql).ctx("preparing query")?;
    if !stmt.readonly() {
        return Err(Error::Sqlite {
            context: "query".into(),
            source: rusqlite::Error::InvalidQuery,
        });
    }
    let columns: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let n = columns.len();
    let mut rows = stmt.query([]).ctx("running query")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ctx("reading query row")? {
        if out.len() >= MAX_QUERY_ROWS {
            break;
        }
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            let v: Value = row.get(i).ctx("reading query value")?;
            vals.push(to_json(ColumnType::String, &v));
        }
        out.push(vals);
    }
    Ok(QueryResult { columns, rows: out })
}

pub(super) fn latest_rows(
    conn: &Connection,
    spec: &TableSpec,
) -> Result<Vec<Map<String, Json>>, Error> {
    let sql = format!(
        "SELECT {cols}, is_deleted FROM {table} ORDER BY {key}",
        cols = column_list(spec),
        table = spec.latest_table(),
        key = spec.key.join(", "),
    );
    read_rows(conn, spec, &sql, &[("is_deleted", ColumnType::Boolean)])
}

/// The rejects table as `{file_name, file_row_number, reason, record}` objects (record
/// as JSON), sorted by file name and row number.
pub(super) fn rejects_rows(
    conn: &Connection,
    spec: &TableSpec,
) -> Result<Vec<Map<String, Json>>, Error> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT file_name, file_row_number, reason, record FROM {}
             ORDER BY file_name, file_row_number",
            spec.rejects_table()
        ))
        .ctx("preparing rejects read")?;
    let rows = stmt
        .query_map([], |r| {
            let record: Option<String> = r.get(3)?;
            let mut m = Map::new();
            m.insert("file_name".into(), Json::String(r.get(0)?));
            m.insert("file_row_number".into(), Json::from(r.get::<_, i64>(1)?));
            m.insert("reason".into(), Json::String(r.get(2)?));
            m.insert(
                "record".into(),
                record
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Json::Null),
            );
            Ok(m)
        })
        .ctx("reading rejects")?;
    rows.collect::<Result<_, _>>().ctx("reading reject row")
}

pub(super) fn history_rows(
    conn: &Connection,
    spec: &TableSpec,
) -> Result<Vec<Map<String, Json>>, Error> {
    let sql = format!(
        "SELECT {cols}, valid_from, valid_to, is_current, is_deleted FROM {table}
         ORDER BY {key}, valid_from",
        cols = column_list(spec),
        table = spec.history_table(),
        key = spec.key.join(", "),
    );
    let et = spec.column(&spec.event_time).expect("validated").ty;
    read_rows(
        conn,
        spec,
        &sql,
        &[
            ("valid_from", et),
            ("valid_to", et),
            ("is_current", ColumnType::Boolean),
            ("is_deleted", ColumnType::Boolean),
        ],
    )
}

fn column_list(spec: &TableSpec) -> String {
    spec.columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_rows(
    conn: &Connection,
    spec: &TableSpec,
    sql: &str,
    extra: &[(&str, ColumnType)],
) -> Result<Vec<Map<String, Json>>, Error> {
    let cols: Vec<(&str, ColumnType)> = spec
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty))
        .chain(extra.iter().copied())
        .collect();
    let mut stmt = conn.prepare(sql).ctx("preparing table read")?;
    let mut rows = stmt.query([]).ctx("reading table")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ctx("reading table row")? {
        let mut map = Map::new();
        for (i, (name, ty)) in cols.iter().enumerate() {
            let v: Value = row.get(i).ctx("reading column")?;
            let ty = if *ty == ColumnType::Integer && matches!(v, Value::Text(_)) {
                ColumnType::String
            } else {
                *ty
            };
            map.insert((*name).to_string(), to_json(ty, &v));
        }
        out.push(map);
    }
    Ok(out)
}
