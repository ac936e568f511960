-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 6 of 7: SCD2 history table and the task that maintains it.

USE ROLE SNOWSTREAM_PIPELINE;

-- One row per distinct (key, UPDATED_AT) version. VALID_TO is the next version's UPDATED_AT
-- (NULL for the current one). Late versions are placed correctly, not dropped.
CREATE TABLE IF NOT EXISTS SNOWSTREAM.CORE.CUSTOMERS_HISTORY (
    ID NUMBER(38, 0) NOT NULL,
    NAME VARCHAR,
    PHONE_NUMBER VARCHAR,
    EMAIL VARCHAR,
    ADDRESS VARCHAR,
    COUNTRY VARCHAR,
    JOB VARCHAR,
    UPDATED_AT TIMESTAMP_NTZ(3) NOT NULL,
    OP VARCHAR,
    VALID_FROM TIMESTAMP_NTZ(3) NOT NULL,
    VALID_TO TIMESTAMP_NTZ(3),
    IS_CURRENT BOOLEAN NOT NULL,
    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY (ID, VALID_FROM)
);

-- A separate task on its own stream (not a second statement in the SCD1 task): a single
-- MERGE consumes its stream atomically without an explicit transaction, and the two
-- tables progress independently.
CREATE OR REPLACE TASK SNOWSTREAM.CORE.CUSTOMERS_HISTORY_TASK
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '1 MINUTE'
    WHEN SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM')
AS
MERGE INTO SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS t
USING (
    WITH incoming AS (
        -- Distinct versions in this batch: exact duplicates (same key and UPDATED_AT)
        -- collapse to one row, the latest by file name and row number.
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
            FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM AS s
        ) AS typed
        WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY ID, UPDATED_AT
            ORDER BY FILE_NAME DESC, FILE_ROW_NUMBER DESC
        ) = 1
    ),
    versions AS (
        -- Every stored version of the keys in this batch...
        SELECT h.ID, h.NAME, h.PHONE_NUMBER, h.EMAIL, h.ADDRESS, h.COUNTRY, h.JOB, h.UPDATED_AT, h.OP, h.IS_DELETED
        FROM SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS h
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE i.ID = h.ID)
        UNION ALL
        -- ...plus the batch's versions not stored yet (replays add nothing).
        SELECT i.ID, i.NAME, i.PHONE_NUMBER, i.EMAIL, i.ADDRESS, i.COUNTRY, i.JOB, i.UPDATED_AT, i.OP, i.IS_DELETED
        FROM incoming AS i
        WHERE NOT EXISTS (
            SELECT 1 FROM SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS h
            WHERE i.ID = h.ID AND h.VALID_FROM = i.UPDATED_AT
        )
    )
    -- The rebuilt history of those keys: each version is valid until the next one, so a
    -- late version lands in its place and splits the interval it falls into.
    SELECT
        v.*,
        v.UPDATED_AT AS VALID_FROM,
        LEAD(v.UPDATED_AT) OVER (PARTITION BY v.ID ORDER BY v.UPDATED_AT) AS VALID_TO
    FROM versions AS v
) AS s
ON t.ID = s.ID AND t.VALID_FROM = s.VALID_FROM
WHEN MATCHED AND NOT EQUAL_NULL(t.VALID_TO, s.VALID_TO) THEN UPDATE SET
    t.VALID_TO = s.VALID_TO,
    t.IS_CURRENT = (s.VALID_TO IS NULL)
WHEN NOT MATCHED THEN INSERT (ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED)
    VALUES (s.ID, s.NAME, s.PHONE_NUMBER, s.EMAIL, s.ADDRESS, s.COUNTRY, s.JOB, s.UPDATED_AT, s.OP, s.VALID_FROM, s.VALID_TO, (s.VALID_TO IS NULL), s.IS_DELETED);

-- Tasks are created suspended.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_HISTORY_TASK RESUME;
