-- snowstream: Snowflake-side staleness alert for table `customers` (hand-written; the
-- rendered sql/01..07 files stay as `snowstream sql` renders them).
--
-- Fires when SNOWSTREAM.RAW.CUSTOMERS_RAW has had no load (Snowpipe or COPY) with rows for
-- 30 minutes, checked every 10 minutes, and emails through a notification integration. This
-- is the warehouse's view of what snowstream's own --stale-after watches on the landing side
-- (a stale stream on both sides: nothing is arriving; stale only here: files land but the
-- pipe does not load them - see SYSTEM$PIPE_STATUS in sql/07_monitoring.sql).
--
-- Syntax and privileges per Snowflake's "CREATE ALERT" reference and "Setting up alerts
-- based on data in Snowflake" guide: the owner role needs EXECUTE ALERT on the account and
-- CREATE ALERT on the schema; an alert is created suspended and must be RESUMEd. Change N
-- (30) in DATEADD, the schedule, the integration name and the recipient to suit.

USE ROLE ACCOUNTADMIN;
GRANT EXECUTE ALERT ON ACCOUNT TO ROLE SNOWSTREAM_PIPELINE;
GRANT CREATE ALERT ON SCHEMA SNOWSTREAM.RAW TO ROLE SNOWSTREAM_PIPELINE;
-- Email recipients must be verified users of the account.
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS SNOWSTREAM_ALERT_EMAIL
    TYPE = EMAIL
    ENABLED = TRUE
    ALLOWED_RECIPIENTS = ('ops@example.com');
GRANT USAGE ON INTEGRATION SNOWSTREAM_ALERT_EMAIL TO ROLE SNOWSTREAM_PIPELINE;

USE ROLE SNOWSTREAM_PIPELINE;
USE WAREHOUSE SNOWSTREAM_WH;

CREATE OR REPLACE ALERT SNOWSTREAM.RAW.CUSTOMERS_RAW_NO_LOAD_ALERT
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '10 MINUTE'
    IF (EXISTS (
        SELECT 1
        WHERE NOT EXISTS (
            SELECT 1
            FROM TABLE(SNOWSTREAM.INFORMATION_SCHEMA.COPY_HISTORY(
                TABLE_NAME => 'SNOWSTREAM.RAW.CUSTOMERS_RAW',
                START_TIME => DATEADD(MINUTE, -30, CURRENT_TIMESTAMP())
            ))
            WHERE row_count > 0
        )
    ))
    THEN
        CALL SYSTEM$SEND_EMAIL(
            'SNOWSTREAM_ALERT_EMAIL',
            'ops@example.com',
            'snowstream: SNOWSTREAM.RAW.CUSTOMERS_RAW has had no load for 30 minutes',
            'No Snowpipe/COPY load with rows into SNOWSTREAM.RAW.CUSTOMERS_RAW in the last 30 minutes. '
            || 'Check snowstream''s /ui page (time since last landed file) and SYSTEM$PIPE_STATUS(''SNOWSTREAM.RAW.CUSTOMERS_PIPE'').'
        );

ALTER ALERT SNOWSTREAM.RAW.CUSTOMERS_RAW_NO_LOAD_ALERT RESUME;

-- Fires when a file was not loaded whole in the last 20 minutes (COPY_HISTORY status other
-- than LOADED: PARTIALLY_LOADED, LOAD_FAILED): with a JSON file and ON_ERROR = CONTINUE a
-- parse error skips the rest of the file ("COPY INTO <table>", ON_ERROR). snowstream refuses
-- such lines before they land, so this means a file written by something else, or a
-- Snowflake limit snowstream does not check; auto-ingest pipes have no other signal
-- (REST-mode pipes: snowstream's SnowstreamSnowpipeLoadFailures alert).
CREATE OR REPLACE ALERT SNOWSTREAM.RAW.CUSTOMERS_RAW_NOT_LOADED_ALERT
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '10 MINUTE'
    IF (EXISTS (
        SELECT 1
        FROM TABLE(SNOWSTREAM.INFORMATION_SCHEMA.COPY_HISTORY(
            TABLE_NAME => 'SNOWSTREAM.RAW.CUSTOMERS_RAW',
            START_TIME => DATEADD(MINUTE, -20, CURRENT_TIMESTAMP())
        ))
        WHERE status <> 'Loaded'
    ))
    THEN
        CALL SYSTEM$SEND_EMAIL(
            'SNOWSTREAM_ALERT_EMAIL',
            'ops@example.com',
            'snowstream: a file was not loaded whole into SNOWSTREAM.RAW.CUSTOMERS_RAW',
            'COPY_HISTORY shows a file that is not Loaded in the last 20 minutes; see first_error_message '
            || 'in sql/07_monitoring.sql''s COPY_HISTORY query.'
        );

ALTER ALERT SNOWSTREAM.RAW.CUSTOMERS_RAW_NOT_LOADED_ALERT RESUME;

-- When it ran and whether it fired (state TRIGGERED), the last 24 hours:
SELECT name, state, scheduled_time, completed_time, sql_error_message
FROM TABLE(SNOWSTREAM.INFORMATION_SCHEMA.ALERT_HISTORY(
    SCHEDULED_TIME_RANGE_START => DATEADD(HOUR, -24, CURRENT_TIMESTAMP()),
    SCHEDULED_TIME_RANGE_END => CURRENT_TIMESTAMP(),
    -- The function returns the 100 newest rows of the account by default.
    RESULT_LIMIT => 10000
))
WHERE name = 'CUSTOMERS_RAW_NO_LOAD_ALERT'
ORDER BY scheduled_time DESC;
