-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 5 of 7: SCD1 latest table and the task that maintains it.

USE ROLE SNOWSTREAM_PIPELINE;

-- One row per key: the newest version, deletes kept as tombstones (IS_DELETED = TRUE).
CREATE TABLE IF NOT EXISTS SNOWSTREAM.CORE.CUSTOMERS_LATEST (
    ID NUMBER(38, 0) NOT NULL,
    NAME VARCHAR,
    PHONE_NUMBER VARCHAR,
    EMAIL VARCHAR,
    ADDRESS VARCHAR,
    COUNTRY VARCHAR,
    JOB VARCHAR,
    UPDATED_AT TIMESTAMP_NTZ(3) NOT NULL,
    OP VARCHAR,
    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY (ID)
);

-- The task body is a single MERGE: it consumes the stream atomically (the stream offset
-- advances only if the MERGE commits), so a failed run is simply retried.
CREATE OR REPLACE TASK SNOWSTREAM.CORE.CUSTOMERS_LATEST_TASK
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '1 MINUTE'
    WHEN SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM')
AS
MERGE INTO SNOWSTREAM.CORE.CUSTOMERS_LATEST AS t
USING (
    -- Newest version per key in this batch: event time, then file name, then row
    -- number (later wins). One source row per key, so the MERGE never hits
    -- "Duplicate row detected during DML action".
    SELECT *
    FROM (
        SELECT
            TRY_CAST(s.RECORD:id::VARCHAR AS NUMBER(38, 0)) AS ID,
            s.RECORD:name::VARCHAR AS NAME,
            s.RECORD:phone_number::VARCHAR AS PHONE_NUMBER,
            s.RECORD:email::VARCHAR AS EMAIL,
            s.RECORD:address::VARCHAR AS ADDRESS,
            s.RECORD:country::VARCHAR AS COUNTRY,
            s.RECORD:job::VARCHAR AS JOB,
            TRY_CAST(s.RECORD:updated_at::VARCHAR AS TIMESTAMP_NTZ(3)) AS UPDATED_AT,
            s.RECORD:op::VARCHAR AS OP,
            COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
            s.FILE_NAME,
            s.FILE_ROW_NUMBER
        FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM AS s
    ) AS typed
    WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY ID
        ORDER BY UPDATED_AT DESC, FILE_NAME DESC, FILE_ROW_NUMBER DESC
    ) = 1
) AS s
ON t.ID = s.ID
-- Only a strictly newer version is applied: duplicates, replays and late older versions
-- change nothing, and a tombstone (IS_DELETED, keeping its UPDATED_AT) blocks older updates.
WHEN MATCHED AND s.UPDATED_AT > t.UPDATED_AT THEN UPDATE SET
    t.NAME = s.NAME,
    t.PHONE_NUMBER = s.PHONE_NUMBER,
    t.EMAIL = s.EMAIL,
    t.ADDRESS = s.ADDRESS,
    t.COUNTRY = s.COUNTRY,
    t.JOB = s.JOB,
    t.UPDATED_AT = s.UPDATED_AT,
    t.OP = s.OP,
    t.IS_DELETED = s.IS_DELETED
WHEN NOT MATCHED THEN INSERT (ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, IS_DELETED)
    VALUES (s.ID, s.NAME, s.PHONE_NUMBER, s.EMAIL, s.ADDRESS, s.COUNTRY, s.JOB, s.UPDATED_AT, s.OP, s.IS_DELETED);

-- Tasks are created suspended.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_LATEST_TASK RESUME;
