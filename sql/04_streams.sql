-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 4 of 7: append-only streams on the raw table, one per task, and the rejects table and task.

USE ROLE SNOWSTREAM_PIPELINE;

-- Three append-only streams, one per task: each consumer has its own offset, so the SCD1,
-- SCD2 and rejects tasks advance independently and a failure of one never loses rows for
-- another. Append-only: the raw table only ever receives inserts.
CREATE STREAM IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM
    ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM
    ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS SNOWSTREAM.RAW.CUSTOMERS_RAW_REJECTS_STREAM
    ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

-- Rows the SCD tasks cannot place (key or UPDATED_AT missing or not in an accepted form, see
-- sql/README.md): one row each, with the reason and the raw record.
CREATE TABLE IF NOT EXISTS SNOWSTREAM.CORE.CUSTOMERS_REJECTS (
    FILE_NAME VARCHAR NOT NULL,
    FILE_ROW_NUMBER NUMBER(38, 0) NOT NULL,
    REASON VARCHAR NOT NULL,
    RECORD VARIANT,
    REJECTED_AT TIMESTAMP_LTZ NOT NULL,
    PRIMARY KEY (FILE_NAME, FILE_ROW_NUMBER)
);

-- A third consumer of the raw table records the rejects, so each task stays one MERGE.
CREATE OR REPLACE TASK SNOWSTREAM.CORE.CUSTOMERS_REJECTS_TASK
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '1 MINUTE'
    WHEN SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_REJECTS_STREAM')
AS
MERGE INTO SNOWSTREAM.CORE.CUSTOMERS_REJECTS AS t
USING (
    SELECT *
    FROM (
        SELECT
            CASE
                WHEN typed.RECORD:id::VARCHAR IS NULL THEN 'id: missing'
                WHEN typed.ID IS NULL THEN 'id: not an integer'
                WHEN typed.RECORD:updated_at::VARCHAR IS NULL THEN 'updated_at: missing'
                WHEN typed.UPDATED_AT IS NULL THEN 'updated_at: not a timestamp in an accepted form'
            END AS REASON,
            typed.FILE_NAME,
            typed.FILE_ROW_NUMBER,
            typed.RECORD
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
                s.FILE_ROW_NUMBER,
                s.RECORD
            FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_REJECTS_STREAM AS s
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
    VALUES (s.FILE_NAME, s.FILE_ROW_NUMBER, s.REASON, s.RECORD, CURRENT_TIMESTAMP());

-- Tasks are created suspended.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_REJECTS_TASK RESUME;
