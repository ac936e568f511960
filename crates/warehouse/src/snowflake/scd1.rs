//! The SCD1 latest table, its `MERGE` and the task that runs it (step 5).

use super::columns::{col, column_ddl, join_on, key_cols, one_row_per, task};
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

/// The SCD1 `MERGE` reading `source` (the stream; a stand-in table in tests).
pub fn scd1_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    let et = spec.event_time.to_ascii_uppercase();
    let keys = key_cols(spec).join(", ");
    let cols: Vec<String> = spec.columns.iter().map(col).collect();
    let updates: Vec<String> = spec
        .non_key_columns()
        .map(col)
        .chain(["IS_DELETED".to_string()])
        .map(|c| format!("t.{c} = s.{c}"))
        .collect();
    let values: Vec<String> = cols
        .iter()
        .chain(&["IS_DELETED".to_string()])
        .map(|c| format!("s.{c}"))
        .collect();
    format!(
        "MERGE INTO {latest} AS t
USING (
    -- Newest version per key in this batch: event time, then file name, then row
    -- number (later wins). One source row per key, so the MERGE never hits
    -- \"Duplicate row detected during DML action\".
    {newest}
) AS s
ON {on}
-- Only a strictly newer version is applied: duplicates, replays and late older versions
-- change nothing, and a tombstone (IS_DELETED, keeping its {et}) blocks older updates.
WHEN MATCHED AND s.{et} > t.{et} THEN UPDATE SET
    {updates}
WHEN NOT MATCHED THEN INSERT ({cols}, IS_DELETED)
    VALUES ({values})",
        latest = n.latest,
        newest = one_row_per(
            spec,
            source,
            &keys,
            &format!("{et} DESC, FILE_NAME DESC, FILE_ROW_NUMBER DESC"),
            4
        ),
        on = join_on(spec, "t", "s"),
        updates = updates.join(",\n    "),
        cols = cols.join(", "),
        values = values.join(", "),
    )
}

pub(super) fn scd1(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let key = key_cols(spec).join(", ");
    format!(
        "USE ROLE {pr};

-- One row per key: the newest version, deletes kept as tombstones (IS_DELETED = TRUE).
CREATE TABLE IF NOT EXISTS {latest} (
{cols}    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY ({key})
);

-- The task body is a single MERGE: it consumes the stream atomically (the stream offset
-- advances only if the MERGE commits), so a failed run is simply retried.
{task}",
        pr = o.pipeline_role,
        latest = n.latest,
        cols = column_ddl(spec),
        task = task(
            &n.latest_task,
            &n.latest_stream,
            o,
            &scd1_merge(spec, o, &n.latest_stream)
        ),
    )
}
