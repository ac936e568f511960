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
    WITH incoming AS (
        SELECT *
        FROM (
            SELECT
                CASE
                    WHEN REGEXP_LIKE(s.RECORD:id::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:id::VARCHAR AS NUMBER(38, 0))
                    WHEN REGEXP_LIKE(s.RECORD:id::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                        AND ABS(TRY_TO_DOUBLE(s.RECORD:id::VARCHAR)) < 9007199254740992
                        AND TRY_TO_DOUBLE(s.RECORD:id::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:id::VARCHAR))
                        THEN TRY_TO_DOUBLE(s.RECORD:id::VARCHAR)::NUMBER(38, 0)
                END AS ID,
                s.RECORD:name::VARCHAR AS NAME,
                s.RECORD:phone_number::VARCHAR AS PHONE_NUMBER,
                s.RECORD:email::VARCHAR AS EMAIL,
                s.RECORD:address::VARCHAR AS ADDRESS,
                s.RECORD:country::VARCHAR AS COUNTRY,
                s.RECORD:job::VARCHAR AS JOB,
                CASE WHEN REGEXP_LIKE(s.RECORD:updated_at::VARCHAR, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$')
                    AND TRY_TO_DATE(SUBSTR(s.RECORD:updated_at::VARCHAR, 1, 10), 'YYYY-MM-DD') IS NOT NULL THEN
                    CONVERT_TIMEZONE('UTC', TRY_TO_TIMESTAMP_TZ(
                        SUBSTR(s.RECORD:updated_at::VARCHAR, 1, 10) || ' ' || SUBSTR(s.RECORD:updated_at::VARCHAR, 12, 8) || '.'
                        || SUBSTR(CASE WHEN SUBSTR(s.RECORD:updated_at::VARCHAR, 20, 1) = '.' THEN REGEXP_REPLACE(SUBSTR(s.RECORD:updated_at::VARCHAR, 21), '[^0-9].*', '') ELSE '' END || '000', 1, 3)
                        || ' ' || CASE
                            WHEN REGEXP_LIKE(s.RECORD:updated_at::VARCHAR, '^.*[+-][0-9]{2}:[0-9]{2}$') THEN RIGHT(s.RECORD:updated_at::VARCHAR, 6)
                            WHEN REGEXP_LIKE(s.RECORD:updated_at::VARCHAR, '^.*[+-][0-9]{4}$') THEN LEFT(RIGHT(s.RECORD:updated_at::VARCHAR, 5), 3) || ':' || RIGHT(s.RECORD:updated_at::VARCHAR, 2)
                            ELSE '+00:00'
                        END,
                        'YYYY-MM-DD HH24:MI:SS.FF3 TZH:TZM'))::TIMESTAMP_NTZ(3)
                END AS UPDATED_AT,
                s.RECORD:op::VARCHAR AS OP,
                COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
                s.FILE_NAME,
                s.FILE_ROW_NUMBER
            FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM AS s
        ) AS typed
        WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    ),
    candidates AS (
        SELECT i.ID, i.NAME, i.PHONE_NUMBER, i.EMAIL, i.ADDRESS, i.COUNTRY, i.JOB, i.UPDATED_AT, i.OP, i.IS_DELETED, FALSE AS STORED
        FROM incoming AS i
        UNION ALL
        SELECT l.ID, l.NAME, l.PHONE_NUMBER, l.EMAIL, l.ADDRESS, l.COUNTRY, l.JOB, l.UPDATED_AT, l.OP, l.IS_DELETED, TRUE AS STORED
        FROM SNOWSTREAM.CORE.CUSTOMERS_LATEST AS l
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE i.ID = l.ID)
    )
    -- The greatest version per key in the total order (event time, then a delete above
    -- an update, then the column values), among the batch and the stored row; the stored
    -- row wins an exact tie. One source row per key, so the MERGE never hits
    -- "Duplicate row detected during DML action", and the result never depends on
    -- which batch a version arrived in.
    SELECT *
    FROM candidates
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY ID
        ORDER BY UPDATED_AT DESC, IS_DELETED DESC, NAME DESC NULLS LAST, PHONE_NUMBER DESC NULLS LAST, EMAIL DESC NULLS LAST, ADDRESS DESC NULLS LAST, COUNTRY DESC NULLS LAST, JOB DESC NULLS LAST, OP DESC NULLS LAST, STORED DESC
    ) = 1
) AS s
ON t.ID = s.ID
-- Only a version that outranks the stored one is applied: duplicates, replays and late
-- older versions change nothing, and a tombstone blocks older updates.
WHEN MATCHED AND NOT s.STORED THEN UPDATE SET
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
