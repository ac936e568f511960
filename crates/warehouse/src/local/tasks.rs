//! The local tasks: SCD1 (latest), SCD2 (history) and rejects, each reading its own stream
//! (an offset over the raw table's `raw_id`). Every batch is applied in one transaction
//! together with its offset advance, so a crash never applies a batch twice or skips one.
//!
//! Versions of one key are ordered by the total order of `sql/README.md` (event time, then
//! a delete above another operation, then the other columns' values, NULL lowest), the
//! same as the Snowflake MERGEs and the generator's oracle: the outcome never depends on
//! arrival order or on which batch a version came in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};
use serde_json::Value as Json;

use crate::error::{Error, SqlContext};
use crate::spec::{ColumnType, TableSpec};
use crate::typing::{cmp_values, reject_reason, typed_record};

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
    /// not in an accepted form.
    pub invalid_rows: u64,
    /// Rows recorded in the rejects table by this run.
    pub rejects_recorded: u64,
}

/// One raw row read from a stream.
struct RawRow {
    record: String,
    file_name: String,
    row_number: i64,
}

/// One typed version read from the stream.
struct Version {
    values: Vec<Value>,
    key_id: String,
    is_deleted: bool,
}

/// Column positions the order and the key need.
struct Layout {
    key: Vec<usize>,
    event_time: usize,
    /// Columns that break ties, in spec order: all but the key and the event time.
    ties: Vec<usize>,
}

impl Layout {
    fn new(spec: &TableSpec) -> Self {
        let pos = |n: &str| spec.columns.iter().position(|c| c.name == n);
        Layout {
            key: spec.key.iter().filter_map(|k| pos(k)).collect(),
            event_time: pos(&spec.event_time).expect("validated"),
            ties: (0..spec.columns.len())
                .filter(|&i| {
                    let c = &spec.columns[i].name;
                    !spec.key.contains(c) && *c != spec.event_time
                })
                .collect(),
        }
    }

    /// The total order of versions of one key (greater wins).
    fn cmp(&self, a: (&[Value], bool), b: (&[Value], bool)) -> Ordering {
        cmp_values(&a.0[self.event_time], &b.0[self.event_time])
            .then(a.1.cmp(&b.1))
            .then_with(|| {
                self.ties
                    .iter()
                    .map(|&i| cmp_values(&a.0[i], &b.0[i]))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
    }
}

pub(super) fn run(
    conn: &mut rusqlite::Connection,
    spec: &TableSpec,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<TaskReport, Error> {
    let mut report = TaskReport::default();
    let layout = Layout::new(spec);
    // Each loop drains one stream; bounded by the raw table's size over BATCH.
    loop {
        let tx = conn.transaction().ctx("starting SCD1 batch")?;
        let (read, rows) = read_batch(&tx, spec, &spec.latest_stream())?;
        if read.is_none() {
            break;
        }
        report.latest_rows_read += rows.len() as u64;
        let (versions, invalid) = typed_versions(spec, &layout, &rows);
        report.invalid_rows += invalid;
        report.latest_rows_changed += apply_scd1(&tx, spec, &layout, versions, hook)?;
        advance(&tx, &spec.latest_stream(), read)?;
        tx.commit().ctx("committing SCD1 batch")?;
    }
    loop {
        let tx = conn.transaction().ctx("starting SCD2 batch")?;
        let (read, rows) = read_batch(&tx, spec, &spec.history_stream())?;
        if read.is_none() {
            break;
        }
        report.history_rows_read += rows.len() as u64;
        let (versions, _) = typed_versions(spec, &layout, &rows);
        let (inserted, rebuilt) = apply_scd2(&tx, spec, &layout, versions, hook)?;
        report.history_versions_inserted += inserted;
        report.history_keys_rebuilt += rebuilt;
        advance(&tx, &spec.history_stream(), read)?;
        tx.commit().ctx("committing SCD2 batch")?;
    }
    loop {
        let tx = conn.transaction().ctx("starting rejects batch")?;
        let (read, rows) = read_batch(&tx, spec, &spec.rejects_stream())?;
        if read.is_none() {
            break;
        }
        report.rejects_recorded += record_rejects(&tx, spec, &rows)?;
        advance(&tx, &spec.rejects_stream(), read)?;
        tx.commit().ctx("committing rejects batch")?;
    }
    Ok(report)
}

/// Reads up to BATCH rows past the stream's offset: (last raw_id read, or None when the
/// stream is empty; the rows).
fn read_batch(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    stream: &str,
) -> Result<(Option<i64>, Vec<RawRow>), Error> {
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
    let (mut last, mut out) = (None, Vec::new());
    while let Some(row) = rows.next().ctx("reading stream row")? {
        last = Some(row.get::<_, i64>(0).ctx("raw_id")?);
        out.push(RawRow {
            record: row.get(1).ctx("record")?,
            file_name: row.get(2).ctx("file_name")?,
            row_number: row.get(3).ctx("file_row_number")?,
        });
    }
    Ok((last, out))
}

/// The typed versions of `rows` that have a key and an event time, and how many had not.
fn typed_versions(spec: &TableSpec, layout: &Layout, rows: &[RawRow]) -> (Vec<Version>, u64) {
    let (mut versions, mut invalid) = (Vec::new(), 0u64);
    for row in rows {
        let (values, is_deleted) = typed_record(spec, &row.record);
        let required = layout.key.iter().chain([&layout.event_time]);
        if required.clone().any(|&i| values[i] == Value::Null) {
            invalid += 1;
            continue;
        }
        let key_id = format!(
            "{:?}",
            layout.key.iter().map(|&i| &values[i]).collect::<Vec<_>>()
        );
        versions.push(Version {
            values,
            key_id,
            is_deleted,
        });
    }
    (versions, invalid)
}

/// Records the rows of `rows` that the SCD tasks skip, with the reason (same text as the
/// Snowflake rejects task); a row already recorded is kept as it is.
fn record_rejects(tx: &Transaction<'_>, spec: &TableSpec, rows: &[RawRow]) -> Result<u64, Error> {
    let checks: Vec<(&str, ColumnType)> = spec
        .key
        .iter()
        .chain([&spec.event_time])
        .filter_map(|n| spec.column(n))
        .map(|c| (c.name.as_str(), c.ty))
        .collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO {} (file_name, file_row_number, reason, record, rejected_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            spec.rejects_table()
        ))
        .ctx("preparing rejects insert")?;
    let mut recorded = 0u64;
    for row in rows {
        let parsed = serde_json::from_str::<Json>(&row.record).ok();
        let Some(reason) = reject_reason(&checks, parsed.as_ref().and_then(Json::as_object)) else {
            continue;
        };
        recorded += insert
            .execute(params![
                row.file_name,
                row.row_number,
                reason,
                row.record,
                now
            ])
            .ctx("recording reject")? as u64;
    }
    Ok(recorded)
}

fn advance(tx: &Transaction<'_>, stream: &str, last: Option<i64>) -> Result<(), Error> {
    tx.execute(
        "UPDATE stream_offsets SET last_raw_id = ?1 WHERE stream_name = ?2",
        rusqlite::params![last, stream],
    )
    .ctx("advancing stream offset")?;
    Ok(())
}

/// Keeps the greatest version per `id` in the total order.
fn greatest<K: std::hash::Hash + Eq + Ord>(
    layout: &Layout,
    versions: Vec<Version>,
    id: impl Fn(&Version) -> K,
) -> Vec<Version> {
    let mut best: HashMap<K, Version> = HashMap::new();
    for v in versions {
        let k = id(&v);
        match best.get(&k) {
            Some(cur)
                if layout.cmp((&cur.values, cur.is_deleted), (&v.values, v.is_deleted))
                    != Ordering::Less => {}
            _ => {
                best.insert(k, v);
            }
        }
    }
    let sorted: BTreeMap<K, Version> = best.into_iter().collect();
    sorted.into_values().collect()
}

/// Reads the stored row of `table` matching `cond` (params `keys`): its column values and
/// `is_deleted`.
fn stored(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    table: &str,
    cond: &str,
    keys: Vec<Value>,
) -> Result<Option<(Vec<Value>, bool)>, Error> {
    let cols: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    let n = cols.len();
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {}, is_deleted FROM {table} WHERE {cond}",
            cols.join(", ")
        ))
        .ctx("preparing stored read")?;
    stmt.query_row(params_from_iter(keys), |r| {
        let values = (0..n)
            .map(|i| r.get::<_, Value>(i))
            .collect::<Result<_, _>>()?;
        Ok((values, r.get::<_, i64>(n)? != 0))
    })
    .optional()
    .ctx("reading stored row")
}

fn key_cond(spec: &TableSpec) -> Vec<String> {
    spec.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ?{}", i + 1))
        .collect()
}

/// SCD1: keep the greatest version per key within the batch, then write it when it
/// outranks the stored row (tombstones included).
fn apply_scd1(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    layout: &Layout,
    versions: Vec<Version>,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<u64, Error> {
    let winners = greatest(layout, versions, |v| v.key_id.clone());
    let table = spec.latest_table();
    let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    let placeholders: Vec<String> = (1..=names.len() + 1).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT OR REPLACE INTO {table} ({cols}, is_deleted) VALUES ({ph})",
        cols = names.join(", "),
        ph = placeholders.join(", "),
    );
    let cond = key_cond(spec).join(" AND ");
    let mut changed = 0u64;
    for (i, v) in winners.into_iter().enumerate() {
        let keys: Vec<Value> = layout.key.iter().map(|&k| v.values[k].clone()).collect();
        let old = stored(tx, spec, &table, &cond, keys)?;
        let newer = old.as_ref().is_none_or(|(vals, del)| {
            layout.cmp((&v.values, v.is_deleted), (vals, *del)) == Ordering::Greater
        });
        if newer {
            let params = v
                .values
                .into_iter()
                .chain(std::iter::once(Value::Integer(i64::from(v.is_deleted))));
            let mut stmt = tx.prepare_cached(&sql).ctx("preparing SCD1 upsert")?;
            changed += stmt
                .execute(params_from_iter(params))
                .ctx("applying SCD1 upsert")? as u64;
        }
        hook("scd1", i + 1)?;
    }
    Ok(changed)
}

/// SCD2: keep the greatest version per (key, event time) within the batch; insert it, or
/// replace the stored version at that event time when it outranks it; then rebuild
/// valid_to / is_current of every key that changed, so late versions are placed where
/// they belong.
fn apply_scd2(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    layout: &Layout,
    versions: Vec<Version>,
    hook: &mut dyn FnMut(&str, usize) -> Result<(), Error>,
) -> Result<(u64, u64), Error> {
    let et_text = |v: &Version| format!("{:?}", v.values[layout.event_time]);
    let distinct = greatest(layout, versions, |v| (v.key_id.clone(), et_text(v)));

    let table = spec.history_table();
    let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    let n = names.len();
    let placeholders: Vec<String> = (1..=n + 2).map(|i| format!("?{i}")).collect();
    let write_sql = format!(
        "INSERT OR REPLACE INTO {table} ({cols}, valid_from, valid_to, is_current, is_deleted)
         VALUES ({ph}, NULL, 0, ?{last})",
        cols = names.join(", "),
        ph = placeholders[..n + 1].join(", "),
        last = n + 2,
    );
    let keys = key_cond(spec);
    let at_cond = format!(
        "{} AND valid_from = ?{}",
        keys.join(" AND "),
        spec.key.len() + 1
    );
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
        cond = keys.join(" AND "),
        join = key_join.join(" AND "),
    );

    let (mut inserted, mut rebuilt) = (0u64, 0u64);
    let mut touched: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, v) in distinct.into_iter().enumerate() {
        let key_vals: Vec<Value> = layout.key.iter().map(|&k| v.values[k].clone()).collect();
        let et = v.values[layout.event_time].clone();
        let mut at = key_vals.clone();
        at.push(et.clone());
        let old = stored(tx, spec, &table, &at_cond, at)?;
        let write = old.as_ref().is_none_or(|(vals, del)| {
            layout.cmp((&v.values, v.is_deleted), (vals, *del)) == Ordering::Greater
        });
        if write {
            inserted += u64::from(old.is_none());
            touched.entry(v.key_id.clone()).or_insert(key_vals);
            let params = v
                .values
                .into_iter()
                .chain([et, Value::Integer(i64::from(v.is_deleted))]);
            let mut stmt = tx.prepare_cached(&write_sql).ctx("preparing SCD2 write")?;
            stmt.execute(params_from_iter(params))
                .ctx("writing SCD2 version")?;
        }
        hook("scd2", i + 1)?;
    }
    let mut rebuild = tx
        .prepare_cached(&rebuild_sql)
        .ctx("preparing SCD2 rebuild")?;
    for key in touched.into_values() {
        rebuild
            .execute(params_from_iter(key))
            .ctx("rebuilding SCD2 key history")?;
        rebuilt += 1;
    }
    Ok((inserted, rebuilt))
}
