-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 4 of 7: append-only streams on the raw table, one per task.

USE ROLE SNOWSTREAM_PIPELINE;

-- Two append-only streams, one per task: each consumer has its own offset, so the SCD1
-- and SCD2 tasks advance independently and a failure of one never loses rows for the
-- other. Append-only: the raw table only ever receives inserts.
CREATE STREAM IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM
    ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM
    ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;
