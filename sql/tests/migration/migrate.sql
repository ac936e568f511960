-- snowstream: migrates the Snowflake objects of table `customers` to a new spec that adds
-- TIER (NUMBER(38, 0)).
-- Rendered by `snowstream sql --from-spec OLD --spec NEW`; run once, as SNOWSTREAM_PIPELINE.
-- The pipe and the streams do not change (the pipe copies the whole record as VARIANT).

USE ROLE SNOWSTREAM_PIPELINE;

-- 1. Stop the tasks, so that no MERGE runs against half-migrated tables. Rows that land
-- meanwhile wait in the streams.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_LATEST_TASK SUSPEND;
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_HISTORY_TASK SUSPEND;
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_REJECTS_TASK SUSPEND;

-- 2. The new columns (IF NOT EXISTS: the script can be re-run).
ALTER TABLE SNOWSTREAM.CORE.CUSTOMERS_LATEST ADD COLUMN IF NOT EXISTS TIER NUMBER(38, 0);
ALTER TABLE SNOWSTREAM.CORE.CUSTOMERS_HISTORY ADD COLUMN IF NOT EXISTS TIER NUMBER(38, 0);

-- 3. Backfill (optional: skip it to leave the new columns NULL in rows stored before the
-- migration). Each stored version gets the new columns of the raw record it came from;
-- of several raw records with the same key, UPDATED_AT and old columns, the greatest in
-- the new columns, so that the tables equal a reload of the raw table with the new spec.
UPDATE SNOWSTREAM.CORE.CUSTOMERS_LATEST AS t
SET TIER = s.TIER
FROM (
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
            CASE
                WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:tier::VARCHAR AS NUMBER(38, 0))
                WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                    AND ABS(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)) < 9007199254740992
                    AND TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR))
                    THEN TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)::NUMBER(38, 0)
            END AS TIER,
            COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
            s.FILE_NAME,
            s.FILE_ROW_NUMBER
        FROM SNOWSTREAM.RAW.CUSTOMERS_RAW AS s
    ) AS typed
    WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, IS_DELETED
        ORDER BY TIER DESC NULLS LAST
    ) = 1
) AS s
WHERE t.ID = s.ID AND t.UPDATED_AT = s.UPDATED_AT
    AND EQUAL_NULL(t.NAME, s.NAME) AND EQUAL_NULL(t.PHONE_NUMBER, s.PHONE_NUMBER) AND EQUAL_NULL(t.EMAIL, s.EMAIL) AND EQUAL_NULL(t.ADDRESS, s.ADDRESS) AND EQUAL_NULL(t.COUNTRY, s.COUNTRY) AND EQUAL_NULL(t.JOB, s.JOB) AND EQUAL_NULL(t.OP, s.OP) AND t.IS_DELETED = s.IS_DELETED;

UPDATE SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS t
SET TIER = s.TIER
FROM (
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
            CASE
                WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:tier::VARCHAR AS NUMBER(38, 0))
                WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                    AND ABS(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)) < 9007199254740992
                    AND TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR))
                    THEN TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)::NUMBER(38, 0)
            END AS TIER,
            COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
            s.FILE_NAME,
            s.FILE_ROW_NUMBER
        FROM SNOWSTREAM.RAW.CUSTOMERS_RAW AS s
    ) AS typed
    WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, IS_DELETED
        ORDER BY TIER DESC NULLS LAST
    ) = 1
) AS s
WHERE t.ID = s.ID AND t.UPDATED_AT = s.UPDATED_AT
    AND EQUAL_NULL(t.NAME, s.NAME) AND EQUAL_NULL(t.PHONE_NUMBER, s.PHONE_NUMBER) AND EQUAL_NULL(t.EMAIL, s.EMAIL) AND EQUAL_NULL(t.ADDRESS, s.ADDRESS) AND EQUAL_NULL(t.COUNTRY, s.COUNTRY) AND EQUAL_NULL(t.JOB, s.JOB) AND EQUAL_NULL(t.OP, s.OP) AND t.IS_DELETED = s.IS_DELETED;

-- 4. The tasks with the new spec's MERGEs, resumed (a task keeps no offset: the streams
-- do, so nothing is read twice or skipped).
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
                CASE
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:tier::VARCHAR AS NUMBER(38, 0))
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                        AND ABS(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)) < 9007199254740992
                        AND TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR))
                        THEN TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)::NUMBER(38, 0)
                END AS TIER,
                COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
                s.FILE_NAME,
                s.FILE_ROW_NUMBER
            FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM AS s
        ) AS typed
        WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    ),
    candidates AS (
        SELECT i.ID, i.NAME, i.PHONE_NUMBER, i.EMAIL, i.ADDRESS, i.COUNTRY, i.JOB, i.UPDATED_AT, i.OP, i.TIER, i.IS_DELETED, FALSE AS STORED
        FROM incoming AS i
        UNION ALL
        SELECT l.ID, l.NAME, l.PHONE_NUMBER, l.EMAIL, l.ADDRESS, l.COUNTRY, l.JOB, l.UPDATED_AT, l.OP, l.TIER, l.IS_DELETED, TRUE AS STORED
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
        ORDER BY UPDATED_AT DESC, IS_DELETED DESC, NAME DESC NULLS LAST, PHONE_NUMBER DESC NULLS LAST, EMAIL DESC NULLS LAST, ADDRESS DESC NULLS LAST, COUNTRY DESC NULLS LAST, JOB DESC NULLS LAST, OP DESC NULLS LAST, TIER DESC NULLS LAST, STORED DESC
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
    t.TIER = s.TIER,
    t.IS_DELETED = s.IS_DELETED
WHEN NOT MATCHED THEN INSERT (ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, TIER, IS_DELETED)
    VALUES (s.ID, s.NAME, s.PHONE_NUMBER, s.EMAIL, s.ADDRESS, s.COUNTRY, s.JOB, s.UPDATED_AT, s.OP, s.TIER, s.IS_DELETED);

-- Tasks are created suspended.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_LATEST_TASK RESUME;

CREATE OR REPLACE TASK SNOWSTREAM.CORE.CUSTOMERS_HISTORY_TASK
    WAREHOUSE = SNOWSTREAM_WH
    SCHEDULE = '1 MINUTE'
    WHEN SYSTEM$STREAM_HAS_DATA('SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM')
AS
MERGE INTO SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS t
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
                CASE
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:tier::VARCHAR AS NUMBER(38, 0))
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                        AND ABS(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)) < 9007199254740992
                        AND TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR))
                        THEN TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)::NUMBER(38, 0)
                END AS TIER,
                COALESCE(s.RECORD:op::VARCHAR = 'D', FALSE) AS IS_DELETED,
                s.FILE_NAME,
                s.FILE_ROW_NUMBER
            FROM SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM AS s
        ) AS typed
        WHERE ID IS NOT NULL AND UPDATED_AT IS NOT NULL
    ),
    candidates AS (
        -- Every stored version of the keys in this batch, plus the batch's versions.
        SELECT h.ID, h.NAME, h.PHONE_NUMBER, h.EMAIL, h.ADDRESS, h.COUNTRY, h.JOB, h.UPDATED_AT, h.OP, h.TIER, h.IS_DELETED, TRUE AS STORED
        FROM SNOWSTREAM.CORE.CUSTOMERS_HISTORY AS h
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE i.ID = h.ID)
        UNION ALL
        SELECT i.ID, i.NAME, i.PHONE_NUMBER, i.EMAIL, i.ADDRESS, i.COUNTRY, i.JOB, i.UPDATED_AT, i.OP, i.TIER, i.IS_DELETED, FALSE AS STORED
        FROM incoming AS i
    ),
    versions AS (
        -- One version per (key, UPDATED_AT): the greatest in the total order (a delete above
        -- an update, then the column values); the stored row wins an exact tie, so
        -- replays change nothing and arrival order never matters.
        SELECT *
        FROM candidates
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY ID, UPDATED_AT
            ORDER BY UPDATED_AT DESC, IS_DELETED DESC, NAME DESC NULLS LAST, PHONE_NUMBER DESC NULLS LAST, EMAIL DESC NULLS LAST, ADDRESS DESC NULLS LAST, COUNTRY DESC NULLS LAST, JOB DESC NULLS LAST, OP DESC NULLS LAST, TIER DESC NULLS LAST, STORED DESC
        ) = 1
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
WHEN MATCHED AND (NOT s.STORED OR NOT EQUAL_NULL(t.VALID_TO, s.VALID_TO)) THEN UPDATE SET
    t.NAME = s.NAME,
    t.PHONE_NUMBER = s.PHONE_NUMBER,
    t.EMAIL = s.EMAIL,
    t.ADDRESS = s.ADDRESS,
    t.COUNTRY = s.COUNTRY,
    t.JOB = s.JOB,
    t.UPDATED_AT = s.UPDATED_AT,
    t.OP = s.OP,
    t.TIER = s.TIER,
    t.IS_DELETED = s.IS_DELETED,
    t.VALID_TO = s.VALID_TO,
    t.IS_CURRENT = (s.VALID_TO IS NULL)
WHEN NOT MATCHED THEN INSERT (ID, NAME, PHONE_NUMBER, EMAIL, ADDRESS, COUNTRY, JOB, UPDATED_AT, OP, TIER, VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED)
    VALUES (s.ID, s.NAME, s.PHONE_NUMBER, s.EMAIL, s.ADDRESS, s.COUNTRY, s.JOB, s.UPDATED_AT, s.OP, s.TIER, s.VALID_FROM, s.VALID_TO, (s.VALID_TO IS NULL), s.IS_DELETED);

-- Tasks are created suspended.
ALTER TASK SNOWSTREAM.CORE.CUSTOMERS_HISTORY_TASK RESUME;

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
                CASE
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]{1,18}$') THEN TRY_CAST(s.RECORD:tier::VARCHAR AS NUMBER(38, 0))
                    WHEN REGEXP_LIKE(s.RECORD:tier::VARCHAR, '^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$')
                        AND ABS(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)) < 9007199254740992
                        AND TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR) = FLOOR(TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR))
                        THEN TRY_TO_DOUBLE(s.RECORD:tier::VARCHAR)::NUMBER(38, 0)
                END AS TIER,
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
