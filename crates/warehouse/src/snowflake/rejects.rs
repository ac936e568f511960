//! The rejects table and the task that fills it (in step 4, beside the streams).
//!
//! A raw row whose key or event time is missing or not in an accepted form cannot be
//! placed in the SCD tables. Both SCD tasks skip exactly these rows (the same typing and
//! the same `IS NOT NULL` filter are rendered into each); a third append-only stream and a
//! third task, whose body is one `MERGE`, record them once each with the reason. A `MERGE`
//! writes one target table only, and a multi-statement task body would need an explicit
//! transaction to read one stream twice at the same offset; a third consumer keeps every
//! task a single statement that consumes its stream atomically.

use super::columns::{reject_reason_expr, task, typed_select};
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

/// The rejects `MERGE` reading `source` (the stream; a stand-in table in tests). Keyed by
/// file name and row number, so a replayed stream records nothing twice.
pub fn rejects_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    format!(
        "MERGE INTO {rejects} AS t
USING (
    SELECT *
    FROM (
        SELECT
            {reason} AS REASON,
            typed.FILE_NAME,
            typed.FILE_ROW_NUMBER,
            typed.RECORD
        FROM (
            SELECT
                {typed}
            FROM {source} AS s
        ) AS typed
    ) AS checked
    WHERE REASON IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY FILE_NAME, FILE_ROW_NUMBER
        ORDER BY REASON
    ) = 1
) AS s
ON t.FILE_NAME = s.FILE_NAME AND t.FILE_ROW_NUMBER = s.FILE_ROW_NUMBER
WHEN NOT MATCHED THEN INSERT (FILE_NAME, FILE_ROW_NUMBER, REASON, RECORD, REJECTED_AT)
    VALUES (s.FILE_NAME, s.FILE_ROW_NUMBER, s.REASON, s.RECORD, CURRENT_TIMESTAMP())",
        rejects = n.rejects,
        reason = reject_reason_expr(spec, "typed", "typed", 12),
        typed = typed_select(spec, 16, true),
    )
}

pub(super) fn rejects(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    format!(
        "
-- Rows the SCD tasks cannot place (key or {et} missing or not in an accepted form, see
-- sql/README.md): one row each, with the reason and the raw record.
CREATE TABLE IF NOT EXISTS {rejects} (
    FILE_NAME VARCHAR NOT NULL,
    FILE_ROW_NUMBER NUMBER(38, 0) NOT NULL,
    REASON VARCHAR NOT NULL,
    RECORD VARIANT,
    REJECTED_AT TIMESTAMP_LTZ NOT NULL,
    PRIMARY KEY (FILE_NAME, FILE_ROW_NUMBER)
);

-- A third consumer of the raw table records the rejects, so each task stays one MERGE.
{task}",
        et = spec.event_time.to_ascii_uppercase(),
        rejects = n.rejects,
        task = task(
            &n.rejects_task,
            &n.rejects_stream,
            o,
            &rejects_merge(spec, o, &n.rejects_stream)
        ),
    )
}
