//! The SCD2 history table, its `MERGE` and the task that runs it (step 6).

use super::columns::{
    col, column_ddl, join_on, key_cols, prefixed_row, task, update_sets, valid_rows, version_order,
};
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

/// The SCD2 `MERGE` reading `source` (the stream; a stand-in table in tests).
pub fn scd2_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    let et = spec.event_time.to_ascii_uppercase();
    let keys = key_cols(spec).join(", ");
    let cols: Vec<String> = spec.columns.iter().map(col).collect();
    let prefixed = |alias: &str| prefixed_row(spec, alias);
    let v_keys: Vec<String> = key_cols(spec).iter().map(|k| format!("v.{k}")).collect();
    let updates = update_sets(spec);
    let values: Vec<String> = cols.iter().map(|c| format!("s.{c}")).collect();
    format!(
        "MERGE INTO {history} AS t
USING (
    WITH incoming AS (
        {valid}
    ),
    candidates AS (
        -- Every stored version of the keys in this batch, plus the batch's versions.
        SELECT {h_cols}, TRUE AS STORED
        FROM {history} AS h
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE {i_h})
        UNION ALL
        SELECT {i_cols}, FALSE AS STORED
        FROM incoming AS i
    ),
    versions AS (
        -- One version per (key, {et}): the greatest in the total order (a delete above
        -- an update, then the column values); the stored row wins an exact tie, so
        -- replays change nothing and arrival order never matters.
        SELECT *
        FROM candidates
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY {keys}, {et}
            ORDER BY {order}
        ) = 1
    )
    -- The rebuilt history of those keys: each version is valid until the next one, so a
    -- late version lands in its place and splits the interval it falls into.
    SELECT
        v.*,
        v.{et} AS VALID_FROM,
        LEAD(v.{et}) OVER (PARTITION BY {v_keys} ORDER BY v.{et}) AS VALID_TO
    FROM versions AS v
) AS s
ON {on} AND t.VALID_FROM = s.VALID_FROM
WHEN MATCHED AND (NOT s.STORED OR NOT EQUAL_NULL(t.VALID_TO, s.VALID_TO)) THEN UPDATE SET
    {updates},
    t.VALID_TO = s.VALID_TO,
    t.IS_CURRENT = (s.VALID_TO IS NULL)
WHEN NOT MATCHED THEN INSERT ({cols}, VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED)
    VALUES ({values}, s.VALID_FROM, s.VALID_TO, (s.VALID_TO IS NULL), s.IS_DELETED)",
        history = n.history,
        valid = valid_rows(spec, source, 8),
        h_cols = prefixed("h"),
        i_cols = prefixed("i"),
        i_h = join_on(spec, "i", "h"),
        order = version_order(spec, "STORED DESC"),
        v_keys = v_keys.join(", "),
        on = join_on(spec, "t", "s"),
        updates = updates.join(",\n    "),
        cols = cols.join(", "),
        values = values.join(", "),
    )
}

pub(super) fn scd2(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let key = key_cols(spec).join(", ");
    let changes = spec
        .history_changes_select(&n.history, true)
        .map(|select| {
            format!(
                "
-- Hash-diff SCD2 (scd2_tracked in the spec): only the versions whose tracked columns or
-- delete flag changed, each valid until the next such version. A view, because the
-- history table must keep every version to place late ones exactly.
CREATE OR REPLACE VIEW {view} AS
{select};
GRANT SELECT ON VIEW {view} TO ROLE {rr};
",
                view = format!("{}_CHANGES", n.history),
                rr = o.reader_role,
            )
        })
        .unwrap_or_default();
    format!(
        "USE ROLE {pr};

-- One row per distinct (key, {et}) version. VALID_TO is the next version's {et}
-- (NULL for the current one). Late versions are placed correctly, not dropped.
CREATE TABLE IF NOT EXISTS {history} (
{cols}    VALID_FROM TIMESTAMP_NTZ(3) NOT NULL,
    VALID_TO TIMESTAMP_NTZ(3),
    IS_CURRENT BOOLEAN NOT NULL,
    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY ({key}, VALID_FROM)
);

-- A separate task on its own stream (not a second statement in the SCD1 task): a single
-- MERGE consumes its stream atomically without an explicit transaction, and the two
-- tables progress independently.
{task}{changes}",
        pr = o.pipeline_role,
        et = spec.event_time.to_ascii_uppercase(),
        history = n.history,
        cols = column_ddl(spec),
        task = task(
            &n.history_task,
            &n.history_stream,
            o,
            &scd2_merge(spec, o, &n.history_stream)
        ),
    )
}
