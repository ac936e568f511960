//! Monitoring queries a user runs any time (step 7): pipe, copy and task history, stream
//! staleness, row counts and the one-current-row invariant.

use super::columns::key_cols;
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

pub(super) fn monitoring(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE {pr};
USE WAREHOUSE {wh};

-- Pipe health: executionState should be RUNNING; pendingFileCount drains to 0.
SELECT SYSTEM$PIPE_STATUS('{pipe}');

-- Files loaded (or not) in the last 24 hours, with row counts and first errors.
SELECT file_name, status, row_count, row_parsed, first_error_message, last_load_time
FROM TABLE({db}.INFORMATION_SCHEMA.COPY_HISTORY(
    TABLE_NAME => '{raw}',
    START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
))
ORDER BY last_load_time DESC;

-- Task runs of the last 24 hours: state SUCCEEDED, FAILED (see error_message) or SKIPPED.
-- RESULT_LIMIT: the function returns 100 rows by default, the newest of the whole account
-- (TASK_HISTORY reference, Arguments); with one-minute tasks that is about half an hour.
SELECT name, state, scheduled_time, completed_time, error_message
FROM TABLE({db}.INFORMATION_SCHEMA.TASK_HISTORY(
    SCHEDULED_TIME_RANGE_START => DATEADD(HOUR, -24, CURRENT_TIMESTAMP()),
    SCHEDULED_TIME_RANGE_END => CURRENT_TIMESTAMP(),
    RESULT_LIMIT => 10000
))
WHERE name IN ('{lt}', '{ht}', '{rt}')
ORDER BY scheduled_time DESC;

-- Stream staleness: a stream not consumed within the table's data retention goes stale
-- (stale = true) and must be recreated with CREATE OR REPLACE STREAM (the setup script's
-- IF NOT EXISTS keeps a stale one). stale_after says when that would happen.
SHOW STREAMS IN SCHEMA {raw_schema};
SELECT \"name\", \"stale\", \"stale_after\", \"mode\"
FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()));

-- Rows waiting in each stream (should return to FALSE shortly after loads stop).
SELECT
    SYSTEM$STREAM_HAS_DATA('{ls}') AS latest_pending,
    SYSTEM$STREAM_HAS_DATA('{hs}') AS history_pending,
    SYSTEM$STREAM_HAS_DATA('{rs}') AS rejects_pending;

-- Row counts along the pipeline.
SELECT
    (SELECT COUNT(*) FROM {raw}) AS raw_rows,
    (SELECT COUNT(*) FROM {latest}) AS latest_rows,
    (SELECT COUNT(*) FROM {latest} WHERE NOT IS_DELETED) AS live_rows,
    (SELECT COUNT(*) FROM {history}) AS history_rows,
    (SELECT COUNT(*) FROM {rejects}) AS rejected_rows;

-- Rejected rows of the last 24 hours by reason (key or event time missing or not in an
-- accepted form; see sql/README.md). Should stay 0; the RECORD column shows the input.
SELECT REASON, COUNT(*) AS ROW_COUNT, MIN(FILE_NAME) AS FIRST_FILE, MAX(REJECTED_AT) AS LAST_SEEN
FROM {rejects}
WHERE REJECTED_AT > DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
GROUP BY REASON
ORDER BY ROW_COUNT DESC;

-- Invariant: exactly one current history row per {key_name}.
SELECT {keys}, COUNT(*) AS current_rows
FROM {history}
WHERE IS_CURRENT
GROUP BY {keys}
HAVING COUNT(*) <> 1;
",
        pr = o.pipeline_role,
        wh = o.warehouse,
        pipe = n.pipe,
        db = n.db,
        raw = n.raw,
        lt = n.latest_task.rsplit('.').next().unwrap_or_default(),
        ht = n.history_task.rsplit('.').next().unwrap_or_default(),
        rt = n.rejects_task.rsplit('.').next().unwrap_or_default(),
        rs = n.rejects_stream,
        rejects = n.rejects,
        raw_schema = n.raw_schema,
        ls = n.latest_stream,
        hs = n.history_stream,
        latest = n.latest,
        history = n.history,
        key_name = spec.key.join(", "),
        keys = key_cols(spec).join(", "),
    )
}
