//! The SCD1 latest table, its `MERGE` and the task that runs it (step 5).

use super::columns::{
    col, column_ddl, join_on, key_cols, prefixed_row, task, update_sets, valid_rows, version_order,
};
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

/// The SCD1 `MERGE` reading `source` (the stream; a stand-in table in tests).
pub fn scd1_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    let keys = key_cols(spec).join(", ");
    let cols: Vec<String> = spec.columns.iter().map(col).collect();
    let prefixed = |alias: &str| prefixed_row(spec, alias);
    let updates = update_sets(spec);
    let values: Vec<String> = cols
        .iter()
        .chain(&["IS_DELETED".to_string()])
        .map(|c| format!("s.{c}"))
        .collect();
    format!(
        "MERGE INTO {latest} AS t
USING (
    WITH incoming AS (
        {valid}
    ),
    candidates AS (
        SELECT {i_cols}, FALSE AS STORED
        FROM incoming AS i
        UNION ALL
        SELECT {l_cols}, TRUE AS STORED
        FROM {latest} AS l
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE {i_l})
    )
    -- The greatest version per key in the total order (event time, then a delete above
    -- an update, then the column values), among the batch and the stored row; the stored
    -- row wins an exact tie. One source row per key, so the MERGE never hits
    -- \"Duplicate row detected during DML action\", and the result never depends on
    -- which batch a version arrived in.
    SELECT *
    FROM candidates
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY {keys}
        ORDER BY {order}
    ) = 1
) AS s
ON {on}
-- Only a version that outranks the stored one is applied: duplicates, replays and late
-- older versions change nothing, and a tombstone blocks older updates.
WHEN MATCHED AND NOT s.STORED THEN UPDATE SET
    {updates}
WHEN NOT MATCHED THEN INSERT ({cols}, IS_DELETED)
    VALUES ({values})",
        latest = n.latest,
        valid = valid_rows(spec, source, 8),
        i_cols = prefixed("i"),
        l_cols = prefixed("l"),
        i_l = join_on(spec, "i", "l"),
        order = version_order(spec, "STORED DESC"),
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
