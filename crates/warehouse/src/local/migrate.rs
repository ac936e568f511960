//! Backfilling the columns a spec migration appended to the local tables (`schema` adds
//! them first): the same plan as the Snowflake migration script
//! (`snowflake::render_migration`): add the columns, then backfill every stored version from
//! the raw record it came from; of several raw records with the same old columns, the
//! greatest in the new ones, so the tables equal a reload of the raw table with the new spec.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Transaction, params_from_iter};

use crate::error::{Error, SqlContext};
use crate::spec::{Column, TableSpec};
use crate::typing::{cmp_values, typed_record};

/// Fills the `added` columns (already in the latest and history tables) of every stored
/// version from the raw records.
pub(super) fn backfill(
    tx: &Transaction<'_>,
    spec: &TableSpec,
    added: &[Column],
) -> Result<(), Error> {
    let n_old = spec.columns.len() - added.len();
    let required: Vec<usize> = spec
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| spec.key.contains(&c.name) || c.name == spec.event_time)
        .map(|(i, _)| i)
        .collect();
    // (old column values, is_deleted) -> the greatest new column values.
    let mut best: HashMap<String, (Vec<Value>, bool, Vec<Value>)> = HashMap::new();
    {
        let mut stmt = tx
            .prepare(&format!("SELECT record FROM {}", spec.raw_table()))
            .ctx("reading raw records for the backfill")?;
        let mut rows = stmt.query([]).ctx("reading raw records")?;
        while let Some(row) = rows.next().ctx("reading raw record")? {
            let text: String = row.get(0).ctx("record")?;
            let (values, deleted) = typed_record(spec, &text);
            if required.iter().any(|&i| values[i] == Value::Null) {
                continue;
            }
            let (old, new) = values.split_at(n_old);
            let id = format!("{old:?}{deleted}");
            let greater = |cur: &[Value]| {
                new.iter()
                    .zip(cur)
                    .map(|(a, b)| cmp_values(a, b))
                    .find(|o| o.is_ne())
                    .is_some_and(|o| o.is_gt())
            };
            match best.get(&id) {
                Some((_, _, cur)) if !greater(cur) => {}
                _ => {
                    best.insert(id, (old.to_vec(), deleted, new.to_vec()));
                }
            }
        }
    }
    for table in [spec.latest_table(), spec.history_table()] {
        let sets: Vec<String> = added
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", c.name, i + 1))
            .collect();
        let conds: Vec<String> = spec.columns[..n_old]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} IS ?{}", c.name, added.len() + i + 1))
            .collect();
        let sql = format!(
            "UPDATE {table} SET {} WHERE {} AND is_deleted = ?{}",
            sets.join(", "),
            conds.join(" AND "),
            added.len() + n_old + 1
        );
        let mut stmt = tx.prepare(&sql).ctx("preparing the backfill")?;
        for (old, deleted, new) in best.values() {
            let params = new
                .iter()
                .chain(old)
                .cloned()
                .chain([Value::Integer(i64::from(*deleted))]);
            stmt.execute(params_from_iter(params))
                .ctx("backfilling a migrated column")?;
        }
    }
    Ok(())
}
