-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 3 of 7: raw table and the auto-ingest pipe that fills it.

USE ROLE SNOWSTREAM_PIPELINE;

-- One row per landed line: the record and meta as VARIANT, plus where and when it was
-- loaded from (file name relative to the stage, 1-based line number, load time).
CREATE TABLE IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW (
    RECORD VARIANT,
    META VARIANT,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38, 0),
    LOADED_AT TIMESTAMP_LTZ
)
CHANGE_TRACKING = TRUE;

-- Snowpipe loads each file once (its load history is keyed by file name for 14 days), so
-- re-sent S3 events do not duplicate rows. Load metadata comes from METADATA$ columns,
-- not CURRENT_TIMESTAMP. ON_ERROR = CONTINUE: for JSON a parse error loads the rows before
-- it and skips the rest of the file (PARTIALLY_LOADED in COPY_HISTORY); snowstream refuses
-- such lines (invalid JSON, a key twice) before they land. IF NOT EXISTS: a changed definition does not take effect when this script
-- is re-run; see "Re-deploying the pipe" in sql/README.md (recreating loses load history).
CREATE PIPE IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_PIPE
    AUTO_INGEST = TRUE
    COMMENT = 'snowstream: landed customers files into SNOWSTREAM.RAW.CUSTOMERS_RAW'
AS
COPY INTO SNOWSTREAM.RAW.CUSTOMERS_RAW (RECORD, META, FILE_NAME, FILE_ROW_NUMBER, LOADED_AT)
FROM (
    SELECT
        $1:record,
        $1:meta,
        METADATA$FILENAME,
        METADATA$FILE_ROW_NUMBER,
        METADATA$START_SCAN_TIME
    FROM @SNOWSTREAM.RAW.LANDING_STAGE/customers/
)
PATTERN = '.*/[^./][^/]*[.]ndjson[.](zst|gz)$'
ON_ERROR = CONTINUE;

-- S3 event notifications: the notification_channel column of SHOW PIPES is the ARN of
-- the SQS queue Snowflake listens on. In the bucket's properties add an event
-- notification for s3:ObjectCreated:* on the landing prefix (suffix filter optional)
-- with that SQS queue as destination. See sql/README.md.
SHOW PIPES LIKE 'CUSTOMERS_PIPE' IN SCHEMA SNOWSTREAM.RAW;

-- Loads files that were already in the stage before the notification was wired
-- (files modified in the last 7 days). Safe to repeat: loaded files are skipped.
ALTER PIPE SNOWSTREAM.RAW.CUSTOMERS_PIPE REFRESH;
