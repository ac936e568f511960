//! The migration script from one spec to another (`snowstream sql --from-spec OLD --spec
//! NEW`): suspend the tasks, add the new columns, backfill them from the raw VARIANT, and
//! replace the tasks with the new spec's MERGEs.

use super::columns::{col, join_on, not_null_filter, snowflake_type, task, typed_select};
use super::{Names, RenderOptions, rejects, scd1, scd2};
use crate::Error;
use crate::spec::TableSpec;

/// Renders the migration script from tables made for `old` to `new` (see
/// [`crate::migrate::plan`] for the supported changes).
pub fn render_migration(
    old: &TableSpec,
    new: &TableSpec,
    o: &RenderOptions,
) -> Result<String, Error> {
    let added = crate::migrate::plan(old, new)?;
    let n = Names::new(new, o);
    if added.is_empty() {
        return Ok(format!(
            "-- snowstream: the spec of table `{}` did not change; nothing to migrate.\n",
            new.name
        ));
    }
    let et = new.event_time.to_ascii_uppercase();
    let old_cols: Vec<String> = old.columns.iter().map(col).collect();
    let new_cols: Vec<String> = added.iter().map(col).collect();
    let mut alters = String::new();
    for table in [&n.latest, &n.history] {
        for c in &added {
            alters += &format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {};\n",
                col(c),
                snowflake_type(c.ty)
            );
        }
    }
    let same_version: Vec<String> = old_cols
        .iter()
        .filter(|c| !new.key.iter().any(|k| k.eq_ignore_ascii_case(c)) && **c != et)
        .map(|c| format!("EQUAL_NULL(t.{c}, s.{c})"))
        .collect();
    let backfill = |table: &str| {
        format!(
            "UPDATE {table} AS t
SET {sets}
FROM (
    SELECT *
    FROM (
        SELECT
            {typed}
        FROM {raw} AS s
    ) AS typed
    WHERE {not_null}
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY {old}, IS_DELETED
        ORDER BY {order}
    ) = 1
) AS s
WHERE {on} AND t.{et} = s.{et}
    AND {same} AND t.IS_DELETED = s.IS_DELETED;
",
            sets = new_cols
                .iter()
                .map(|c| format!("{c} = s.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            typed = typed_select(new, 12, false),
            raw = n.raw,
            not_null = not_null_filter(new),
            old = old_cols.join(", "),
            order = new_cols
                .iter()
                .map(|c| format!("{c} DESC NULLS LAST"))
                .collect::<Vec<_>>()
                .join(", "),
            on = join_on(new, "t", "s"),
            same = same_version.join(" AND "),
        )
    };
    let tasks = [
        task(
            &n.latest_task,
            &n.latest_stream,
            o,
            &scd1::scd1_merge(new, o, &n.latest_stream),
        ),
        task(
            &n.history_task,
            &n.history_stream,
            o,
            &scd2::scd2_merge(new, o, &n.history_stream),
        ),
        task(
            &n.rejects_task,
            &n.rejects_stream,
            o,
            &rejects::rejects_merge(new, o, &n.rejects_stream),
        ),
    ];
    Ok(format!(
        "-- snowstream: migrates the Snowflake objects of table `{name}` to a new spec that adds
-- {list}.
-- Rendered by `snowstream sql --from-spec OLD --spec NEW`; run once, as {pr}.
-- The pipe and the streams do not change (the pipe copies the whole record as VARIANT).

USE ROLE {pr};

-- 1. Stop the tasks, so that no MERGE runs against half-migrated tables. Rows that land
-- meanwhile wait in the streams.
ALTER TASK {lt} SUSPEND;
ALTER TASK {ht} SUSPEND;
ALTER TASK {rt} SUSPEND;

-- 2. The new columns (IF NOT EXISTS: the script can be re-run).
{alters}
-- 3. Backfill (optional: skip it to leave the new columns NULL in rows stored before the
-- migration). Each stored version gets the new columns of the raw record it came from;
-- of several raw records with the same key, {et} and old columns, the greatest in
-- the new columns, so that the tables equal a reload of the raw table with the new spec.
{bf_latest}
{bf_history}
-- 4. The tasks with the new spec's MERGEs, resumed (a task keeps no offset: the streams
-- do, so nothing is read twice or skipped).
{tasks}",
        name = new.name,
        list = added
            .iter()
            .map(|c| format!("{} ({})", col(c), snowflake_type(c.ty)))
            .collect::<Vec<_>>()
            .join(", "),
        pr = o.pipeline_role,
        lt = n.latest_task,
        ht = n.history_task,
        rt = n.rejects_task,
        bf_latest = backfill(&n.latest),
        bf_history = backfill(&n.history),
        tasks = tasks.join("\n"),
    ))
}
