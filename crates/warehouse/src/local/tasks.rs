//! The local tasks: SCD1 (latest) and SCD2 (history), each reading its own stream (an
//! offset over the raw table's `raw_id`). Every batch is applied in one transaction
//! together with its offset advance, so a crash never applies a batch twice or skips one.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Transaction, params_from_iter};
use serde_json::Value as Json;

use crate::error::{Error, SqlContext};
use crate::spec::TableSpec;
use crate::typing::typed;

/// Rows read from a stream per transaction.
const BATCH: i64 = 5_000;

/// What one [`crate::Warehouse::run_tasks`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskReport {
    /// Raw rows consumed from the SCD1 stream.
    pub latest_rows_read: u64,
    /// Rows inserted or updated in the latest table.
    pub latest_rows_changed: u64,
    /// Raw rows consumed from the SCD2 stream.
    pub history_rows_read: u64,
    /// New versions inserted into the history table.
    pub history_versions_inserted: u64,
    /// Keys whose history chain was rebuilt (valid_to / is_current recomputed).
    pub history_keys_rebuilt: u64,
    /// Raw rows skipped by the SCD1 task because the key or event time is missing or
    /// does not fit its type.
    pub invalid_rows: u64,
}

/// One typed version read from the stream.
struct Version {
    values: Vec<Value>,
    key_id: String,
    event_time: String,
    file_name: String,
    row_number: i64,
    is_deleted: bool,
}

impl Version {
    /// Ordering of contract 3: event time, then file name, then row number; latest wins.
    fn rank(&self) -> (&str, &str, i64) {
        (&self.event_time, &self.file_name, self.row_number)
    }
}

pub(super) fn run(
    conn: &mut rusqlite::Connection,
    spec: &TableSpec,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<TaskReport, Error> {
    let mut report = TaskReport::default();
    // Each loop drains one stream; bounded by the raw table's size over BATCH.
    loop {
        let tx = conn.transaction().ctx("starting SCD1 batch")?;
        let (read, versions, invalid) = read_batch(&tx, spec, &spec.latest_stream())?;
        if read.is_none() {
            break;
        }
        report.latest_rows_read += versions.len() as u64 + invalid;
        report.invalid_rows += invalid;
        report.latest_rows_changed += apply_scd1(&tx, spec, versions, hook)?;
        advance(&tx, &spec.latest_stream(), read)?;
        tx.commit().ctx("committing SCD1 batch")?;
    }
    loop {
        let tx = conn.transaction().ctx("starting SCD2 batch")?;
        let (read, versions, invalid) = read_batch(&tx, spec, &spec.history_stream())?;
        if read.is_none() {
            break;
        }
        report.history_rows_read += versions.len() as u64 + invalid;
        let (inserted, rebuilt) = apply_scd2(&tx, spec, versions, hook)?;
        report.history_versions_inserted += inserted;
        report.history_keys_rebuilt += rebuilt;
        advance(&tx, &spec.history_stream(), read)?;
        tx.commit().ctx("committing SCD2 batch")?;
    }
    Ok(report)
}

/// Reads up to BATCH rows past the stream's offset: (last raw_id read or None when the
/// stream is empty, valid typed versions, count of invalid rows).
fn read_batch(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    stream: &str,
) -> Result<(Option<i64>, Vec<Version>, u64), Error> {
    let offset: i64 = tx
        .query_row(
            "SELECT last_raw_id FROM stream_offsets WHERE stream_name = ?1",
            [stream],
            |r| r.get(0),
        )
        .ctx("reading stream offset")?;
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT raw_id, record, file_name, file_row_number FROM {}
             WHERE raw_id > ?1 ORDER BY raw_id LIMIT ?2",
            spec.raw_table()
        ))
        .ctx("preparing stream read")?;
    let mut rows = stmt.query([offset, BATCH]).ctx("reading stream")?;
    let key_idx: Vec<usize> = spec
        .key
        .iter()
        .map(|k| {
            spec.columns
                .iter()
                .position(|c| &c.name == k)
                .expect("validated")
        })
        .collect();
    let et_idx = spec
        .columns
        .iter()
        .position(|c| c.name == spec.event_time)
        .expect("validated");
    let (mut last, mut versions, mut invalid) = (None, Vec::new(), 0u64);
    while let Some(row) = rows.next().ctx("reading stream row")? {
        let raw_id: i64 = row.get(0).ctx("raw_id")?;
        let record: String = row.get(1).ctx("record")?;
        let file_name: String = row.get(2).ctx("file_name")?;
        let row_number: i64 = row.get(3).ctx("file_row_number")?;
        last = Some(raw_id);
        let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(&record) else {
            invalid += 1;
            continue;
        };
        let values: Vec<Value> = spec
            .columns
            .iter()
            .map(|c| typed(c.ty, obj.get(&c.name)))
            .collect();
        let event_time = match &values[et_idx] {
            Value::Text(s) => s.clone(),
            Value::Integer(i) => format!("{i:020}"),
            _ => {
                invalid += 1;
                continue;
            }
        };
        if key_idx.iter().any(|&i| values[i] == Value::Null) {
            invalid += 1;
            continue;
        }
        let key_id = format!(
            "{:?}",
            key_idx.iter().map(|&i| &values[i]).collect::<Vec<_>>()
        );
        let is_deleted = obj
            .get(&spec.delete_marker.column)
            .and_then(Json::as_str)
            .is_some_and(|op| op == spec.delete_marker.value);
        versions.push(Version {
            values,
            key_id,
            event_time,
            file_name,
            row_number,
            is_deleted,
        });
    }
    Ok((last, versions, invalid))
}

fn advance(tx: &Transaction<'_>, stream: &str, last: Option<i64>) -> Result<(), Error> {
    tx.execute(
        "UPDATE stream_offsets SET last_raw_id = ?1 WHERE stream_name = ?2",
        rusqlite::params![last, stream],
    )
    .ctx("advancing stream offset")?;
    Ok(())
}

/// SCD1: keep the newest version per key within the batch, then upsert it only when its
/// event time is strictly greater than the stored one (tombstones included).
fn apply_scd1(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    versions: Vec<Version>,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut best: HashMap<String, Version> = HashMap::new();
    for v in versions {
        match best.get(&v.key_id) {
            Some(cur) if cur.rank() >= v.rank() => {}
            _ => {
                best.insert(v.key_id.clone(), v);
            }
        }
    }
    let mut winners: Vec<Version> = best.into_values().collect();
    winners.sort_by(|a, b| a.key_id.cmp(&b.key_id));

    let table = spec.latest_table();
    let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    let placeholders: Vec<String> = (1..=names.len() + 1).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = spec
        .non_key_columns()
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .chain(std::iter::once(
            "is_deleted = excluded.is_deleted".to_string(),
        ))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({cols}, is_deleted) VALUES ({ph})
         ON CONFLICT ({key}) DO UPDATE SET {updates}
         WHERE excluded.{et} > {table}.{et}",
        cols = names.join(", "),
        ph = placeholders.join(", "),
        key = spec.key.join(", "),
        updates = updates.join(", "),
        et = spec.event_time,
    );
    let mut stmt = tx.prepare_cached(&sql).ctx("preparing SCD1 upsert")?;
    let mut changed = 0u64;
    for (i, v) in winners.into_iter().enumerate() {
        let params = v
            .values
            .into_iter()
            .chain(std::iter::once(Value::Integer(i64::from(v.is_deleted))));
        changed += stmt
            .execute(params_from_iter(params))
            .ctx("applying SCD1 upsert")? as u64;
        hook("scd1", i + 1)?;
    }
    Ok(changed)
}

/// SCD2: insert each distinct (key, event time) version not yet stored, then rebuild
/// valid_to / is_current of every key that got a new version, so late versions are
/// placed where they belong.
fn apply_scd2(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    versions: Vec<Version>,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<(u64, u64), Error> {
    let mut best: HashMap<(String, String), Version> = HashMap::new();
    for v in versions {
        let id = (v.key_id.clone(), v.event_time.clone());
        match best.get(&id) {
            Some(cur) if cur.rank() >= v.rank() => {}
            _ => {
                best.insert(id, v);
            }
        }
    }
    let mut distinct: Vec<Version> = best.into_values().collect();
    distinct.sort_by(|a, b| (&a.key_id, &a.event_time).cmp(&(&b.key_id, &b.event_time)));

    let table = spec.history_table();
    let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    let n = names.len();
    let placeholders: Vec<String> = (1..=n + 2).map(|i| format!("?{i}")).collect();
    let insert_sql = format!(
        "INSERT INTO {table} ({cols}, valid_from, valid_to, is_current, is_deleted)
         VALUES ({ph}, NULL, 0, ?{last}) ON CONFLICT DO NOTHING",
        cols = names.join(", "),
        ph = placeholders[..n + 1].join(", "),
        last = n + 2,
    );
    let key_cond: Vec<String> = spec
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ?{}", i + 1))
        .collect();
    let key_join: Vec<String> = spec
        .key
        .iter()
        .map(|k| format!("{table}.{k} = n.{k}"))
        .collect();
    let rebuild_sql = format!(
        "UPDATE {table} SET valid_to = n.next_from, is_current = (n.next_from IS NULL)
         FROM (SELECT {keys}, valid_from,
                      LEAD(valid_from) OVER (ORDER BY valid_from) AS next_from
               FROM {table} WHERE {cond}) AS n
         WHERE {join} AND {table}.valid_from = n.valid_from
           AND ({table}.valid_to IS NOT n.next_from
                OR {table}.is_current IS NOT (n.next_from IS NULL))",
        keys = spec.key.join(", "),
        cond = key_cond.join(" AND "),
        join = key_join.join(" AND "),
    );
    let key_idx: Vec<usize> = spec
        .key
        .iter()
        .map(|k| names.iter().position(|c| c == k).expect("validated"))
        .collect();

    let mut insert = tx
        .prepare_cached(&insert_sql)
        .ctx("preparing SCD2 insert")?;
    let mut rebuild = tx
        .prepare_cached(&rebuild_sql)
        .ctx("preparing SCD2 rebuild")?;
    let (mut inserted, mut rebuilt) = (0u64, 0u64);
    let mut touched: Vec<Vec<Value>> = Vec::new();
    let mut last_key: Option<String> = None;
    for (i, v) in distinct.into_iter().enumerate() {
        let key_vals: Vec<Value> = key_idx.iter().map(|&k| v.values[k].clone()).collect();
        let params = v.values.into_iter().chain([
            Value::Text(v.event_time.clone()),
            Value::Integer(i64::from(v.is_deleted)),
        ]);
        let added = insert
            .execute(params_from_iter(params))
            .ctx("inserting SCD2 version")?;
        if added > 0 {
            inserted += 1;
            if last_key.as_deref() != Some(v.key_id.as_str()) {
                touched.push(key_vals);
                last_key = Some(v.key_id);
            }
        }
        hook("scd2", i + 1)?;
    }
    for key in touched {
        rebuild
            .execute(params_from_iter(key))
            .ctx("rebuilding SCD2 key history")?;
        rebuilt += 1;
    }
    Ok((inserted, rebuilt))
}
