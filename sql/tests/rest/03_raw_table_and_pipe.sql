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
    AUTO_INGEST = FALSE
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

-- REST mode (AUTO_INGEST = FALSE): snowstream's notifier calls insertFiles for each file it
-- lands, as SNOWPIPE_LOADER, with key-pair authentication; its default role holds what Snowpipe's
-- REST API needs. Set the user's public key first:
--   ALTER USER SNOWPIPE_LOADER SET RSA_PUBLIC_KEY = '<base64 of rsa_key.pub>';
USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS CUSTOMERS_SNOWPIPE_REST;
GRANT USAGE ON DATABASE SNOWSTREAM TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT USAGE ON SCHEMA SNOWSTREAM.RAW TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT USAGE ON STAGE SNOWSTREAM.RAW.LANDING_STAGE TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT USAGE ON FILE FORMAT SNOWSTREAM.RAW.LANDED_NDJSON TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT INSERT, SELECT ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT OPERATE, MONITOR ON PIPE SNOWSTREAM.RAW.CUSTOMERS_PIPE TO ROLE CUSTOMERS_SNOWPIPE_REST;
GRANT ROLE CUSTOMERS_SNOWPIPE_REST TO USER SNOWPIPE_LOADER;
ALTER USER SNOWPIPE_LOADER SET DEFAULT_ROLE = CUSTOMERS_SNOWPIPE_REST;
USE ROLE SNOWSTREAM_PIPELINE;

-- Loads files that were already in the stage before the notification was wired
-- (files modified in the last 7 days). Safe to repeat: loaded files are skipped.
ALTER PIPE SNOWSTREAM.RAW.CUSTOMERS_PIPE REFRESH;
