-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 7 of 7: monitoring queries (run any time).

USE ROLE SNOWSTREAM_PIPELINE;
USE WAREHOUSE SNOWSTREAM_WH;

-- Pipe health: executionState should be RUNNING; pendingFileCount drains to 0.
SELECT SYSTEM$PIPE_STATUS('SNOWSTREAM.RAW.CUSTOMERS_PIPE');

-- Files loaded (or not) in the last 24 hours, with row counts and first errors.
SELECT file_name, status, row_count, row_parsed, first_error_message, last_load_time
FROM TABLE(SNOWSTREAM.INFORMATION_SCHEMA.COPY_HISTORY(
    TABLE_NAME => 'SNOWSTREAM.RAW.CUSTOMERS_RAW',
    START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
))
ORDER BY last_load_time DESC;

-- Task runs of the last 24 hours: state SUCCEEDED, FAILED (see error_message) or SKIPPED.
-- RESULT_LIMIT: the function returns 100 rows by default, the newest of the whole account
-- (TASK_HISTORY reference, Arguments); with one-minute tasks that is about half an hour.
SELECT name, state, scheduled_time, completed_time, error_message
FROM TABLE(SNOWSTREAM.INFORMATION_SCHEMA.TASK_HISTORY(
    SCHEDULED_TIME_RANGE_START => DATEADD(HOUR, -24, CURRENT_TIMESTAMP()),
    SCHEDULED_TIME_RANGE_END => CURRENT_TIMESTAMP(),
    RESULT_LIMIT => 10000
))
WHERE name IN ('CUSTOMERS_LATEST_TASK', 'CUSTOMERS_HISTORY_TASK', 'CUSTOMERS_REJECTS_TASK')
ORDER BY scheduled_time DESC;

-- Stream staleness: a stream not consumed within the table's data retention goes stale
-- (stale = true) and must be recreated with CREATE OR REPLACE STREAM (the setup script's
-- IF NOT EXISTS keeps a stale one). stale_after says when that would happen.
SHOW STREAMS IN SCHEMA SNOWSTREAM.RAW;
SELECT "name", "stale", "stale_after", "mode"
FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()));

-- Rows waiting in each stream (should return to FALSE shortly after loads stop).
SELECT
    SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM') AS latest_pending,
    SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM') AS history_pending,
    SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_REJECTS_STREAM') AS rejects_pending;

-- Row counts along the pipeline.
SELECT
    (SELECT COUNT(*) FROM SNOWSTREAM.RAW.CUSTOMERS_RAW) AS raw_rows,
    (SELECT COUNT(*) FROM SNOWSTREAM.CORE.CUSTOMERS_LATEST) AS latest_rows,
    (SELECT COUNT(*) FROM SNOWSTREAM.CORE.CUSTOMERS_LATEST WHERE NOT IS_DELETED) AS live_rows,
    (SELECT COUNT(*) FROM SNOWSTREAM.CORE.CUSTOMERS_HISTORY) AS history_rows,
    (SELECT COUNT(*) FROM SNOWSTREAM.CORE.CUSTOMERS_REJECTS) AS rejected_rows;

-- Rejected rows of the last 24 hours by reason (key or event time missing or not in an
-- accepted form; see sql/README.md). Should stay 0; the RECORD column shows the input.
SELECT REASON, COUNT(*) AS ROW_COUNT, MIN(FILE_NAME) AS FIRST_FILE, MAX(REJECTED_AT) AS LAST_SEEN
FROM SNOWSTREAM.CORE.CUSTOMERS_REJECTS
WHERE REJECTED_AT > DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
GROUP BY REASON
ORDER BY ROW_COUNT DESC;

-- Invariant: exactly one current history row per id.
SELECT ID, COUNT(*) AS current_rows
FROM SNOWSTREAM.CORE.CUSTOMERS_HISTORY
WHERE IS_CURRENT
GROUP BY ID
HAVING COUNT(*) <> 1;
