//! Renders the Snowflake objects for a [`TableSpec`]: numbered scripts a user runs in order
//! (setup, stage, raw table, pipe, streams, SCD1 task, SCD2 task, monitoring, teardown).
//!
//! Design:
//! - The pipe copies `record` and `meta` as VARIANT plus `METADATA$FILENAME`,
//!   `METADATA$FILE_ROW_NUMBER` and `METADATA$START_SCAN_TIME`; its PATTERN loads only
//!   `*.ndjson.zst` / `*.ndjson.gz` (never the `*.manifest.json` beside them).
//! - Two append-only streams on the raw table, one per consumer, and two tasks: each task
//!   body is ONE `MERGE`, so each task consumes its stream atomically (the offset advances
//!   only when the MERGE commits) and the SCD1 and SCD2 tables never wait on each other.
//! - SCD1 dedupes the batch per key (newest event time, then file name, then row number),
//!   applies a version only when it is strictly newer, and keeps deletes as tombstones.
//! - SCD2 inserts each new distinct (key, event time) and, in the same MERGE, recomputes
//!   `valid_to`/`is_current` over the whole history of every key in the batch, so late
//!   versions are placed where they belong and replays change nothing.

use crate::spec::{Column, ColumnType, TableSpec};

/// Where and how to create the objects. Identifiers are rendered as given (unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Database, e.g. `SNOWSTREAM`.
    pub database: String,
    /// Schema of stage, raw table, pipe and streams, e.g. `RAW`.
    pub raw_schema: String,
    /// Schema of the SCD tables and tasks, e.g. `CORE`.
    pub core_schema: String,
    /// Virtual warehouse the tasks run on.
    pub warehouse: String,
    /// Role that owns the pipeline objects.
    pub pipeline_role: String,
    /// Role that may read the SCD tables.
    pub reader_role: String,
    /// Storage integration name.
    pub storage_integration: String,
    /// IAM role Snowflake assumes to read the bucket.
    pub aws_role_arn: String,
    /// Landing prefix URL (the stage URL), e.g. `s3://my-bucket/snowstream/`.
    pub stage_url: String,
    /// Task schedule (how often the stream is checked), e.g. `1 MINUTE`.
    pub task_schedule: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            database: "SNOWSTREAM".into(),
            raw_schema: "RAW".into(),
            core_schema: "CORE".into(),
            warehouse: "SNOWSTREAM_WH".into(),
            pipeline_role: "SNOWSTREAM_PIPELINE".into(),
            reader_role: "SNOWSTREAM_READER".into(),
            storage_integration: "SNOWSTREAM_S3".into(),
            aws_role_arn: "arn:aws:iam::123456789012:role/snowstream-snowflake".into(),
            stage_url: "s3://my-landing-bucket/snowstream/".into(),
            task_schedule: "1 MINUTE".into(),
        }
    }
}

/// Object names derived from the spec and options.
struct Names {
    db: String,
    raw_schema: String,
    core_schema: String,
    file_format: String,
    stage: String,
    raw: String,
    pipe: String,
    latest_stream: String,
    history_stream: String,
    latest: String,
    history: String,
    latest_task: String,
    history_task: String,
}

impl Names {
    fn new(spec: &TableSpec, o: &RenderOptions) -> Self {
        let up = |s: String| s.to_ascii_uppercase();
        let raw = |n: String| format!("{}.{}.{}", o.database, o.raw_schema, up(n));
        let core = |n: String| format!("{}.{}.{}", o.database, o.core_schema, up(n));
        Names {
            db: o.database.clone(),
            raw_schema: format!("{}.{}", o.database, o.raw_schema),
            core_schema: format!("{}.{}", o.database, o.core_schema),
            file_format: raw("landed_ndjson".into()),
            stage: raw("landing_stage".into()),
            raw: raw(spec.raw_table()),
            pipe: raw(format!("{}_pipe", spec.name)),
            latest_stream: raw(spec.latest_stream()),
            history_stream: raw(spec.history_stream()),
            latest: core(spec.latest_table()),
            history: core(spec.history_table()),
            latest_task: core(format!("{}_task", spec.latest_table())),
            history_task: core(format!("{}_task", spec.history_table())),
        }
    }
}

/// Renders the numbered scripts: `(file name, SQL)` in the order to run them.
pub fn render(spec: &TableSpec, o: &RenderOptions) -> Vec<(String, String)> {
    let n = Names::new(spec, o);
    let header = |step: &str, what: &str| {
        format!(
            "-- snowstream: Snowflake objects for table `{}` (landing stream `{}`).\n\
             -- Rendered from the table spec by `snowstream sql`; do not edit by hand.\n\
             -- {step}: {what}\n\n",
            spec.name, spec.stream
        )
    };
    vec![
        (
            "01_setup.sql".into(),
            header(
                "Step 1 of 7",
                "database, schemas, warehouse, roles and grants.",
            ) + &setup(&n, o),
        ),
        (
            "02_stage.sql".into(),
            header(
                "Step 2 of 7",
                "storage integration, file format and external stage.",
            ) + &stage(spec, &n, o),
        ),
        (
            "03_raw_table_and_pipe.sql".into(),
            header(
                "Step 3 of 7",
                "raw table and the auto-ingest pipe that fills it.",
            ) + &raw_and_pipe(spec, &n, o),
        ),
        (
            "04_streams.sql".into(),
            header(
                "Step 4 of 7",
                "append-only streams on the raw table, one per task.",
            ) + &streams(&n, o),
        ),
        (
            "05_scd1_latest.sql".into(),
            header(
                "Step 5 of 7",
                "SCD1 latest table and the task that maintains it.",
            ) + &scd1(spec, &n, o),
        ),
        (
            "06_scd2_history.sql".into(),
            header(
                "Step 6 of 7",
                "SCD2 history table and the task that maintains it.",
            ) + &scd2(spec, &n, o),
        ),
        (
            "07_monitoring.sql".into(),
            header("Step 7 of 7", "monitoring queries (run any time).") + &monitoring(spec, &n, o),
        ),
        (
            "99_teardown.sql".into(),
            header("Teardown", "drops everything above. DESTROYS DATA.") + &teardown(&n, o),
        ),
    ]
}

fn setup(n: &Names, o: &RenderOptions) -> String {
    format!(
        "-- Run as ACCOUNTADMIN (or a role allowed to create databases, warehouses and roles).
USE ROLE ACCOUNTADMIN;

CREATE DATABASE IF NOT EXISTS {db};
CREATE SCHEMA IF NOT EXISTS {raw_schema};
CREATE SCHEMA IF NOT EXISTS {core_schema};

-- The tasks run on this warehouse; it suspends itself when idle.
CREATE WAREHOUSE IF NOT EXISTS {wh}
    WAREHOUSE_SIZE = XSMALL
    AUTO_SUSPEND = 60
    AUTO_RESUME = TRUE
    INITIALLY_SUSPENDED = TRUE;

-- {pr} owns the pipeline objects; {rr} may only read the SCD tables.
CREATE ROLE IF NOT EXISTS {pr};
CREATE ROLE IF NOT EXISTS {rr};
GRANT ROLE {pr} TO ROLE SYSADMIN;
GRANT ROLE {rr} TO ROLE {pr};

GRANT USAGE ON DATABASE {db} TO ROLE {pr};
GRANT USAGE, CREATE TABLE, CREATE STAGE, CREATE FILE FORMAT, CREATE PIPE, CREATE STREAM
    ON SCHEMA {raw_schema} TO ROLE {pr};
GRANT USAGE, CREATE TABLE, CREATE TASK ON SCHEMA {core_schema} TO ROLE {pr};
GRANT USAGE, OPERATE ON WAREHOUSE {wh} TO ROLE {pr};
GRANT EXECUTE TASK ON ACCOUNT TO ROLE {pr};

GRANT USAGE ON DATABASE {db} TO ROLE {rr};
GRANT USAGE ON SCHEMA {core_schema} TO ROLE {rr};
GRANT SELECT ON FUTURE TABLES IN SCHEMA {core_schema} TO ROLE {rr};
GRANT USAGE ON WAREHOUSE {wh} TO ROLE {rr};
",
        db = n.db,
        raw_schema = n.raw_schema,
        core_schema = n.core_schema,
        wh = o.warehouse,
        pr = o.pipeline_role,
        rr = o.reader_role,
    )
}

/// PATTERN of landed data files: `*.ndjson.zst` / `*.ndjson.gz`, not hidden temp files
/// and not the `*.manifest.json` written beside each file.
const LANDED_PATTERN: &str = ".*/[^./][^/]*[.]ndjson[.](zst|gz)$";

fn stage(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    format!(
        "-- Creating an integration needs ACCOUNTADMIN (or CREATE INTEGRATION on the account).
USE ROLE ACCOUNTADMIN;

CREATE STORAGE INTEGRATION IF NOT EXISTS {si}
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = '{arn}'
    STORAGE_ALLOWED_LOCATIONS = ('{url}');

GRANT USAGE ON INTEGRATION {si} TO ROLE {pr};

-- STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID from this output go into the
-- trust policy of the IAM role above (see sql/README.md).
DESC INTEGRATION {si};

USE ROLE {pr};

-- Landed files are NDJSON, one {{\"record\":{{...}},\"meta\":{{...}}}} object per line,
-- zstd (.ndjson.zst) or gzip (.ndjson.gz); AUTO detects both.
CREATE FILE FORMAT IF NOT EXISTS {ff}
    TYPE = JSON
    COMPRESSION = AUTO
    STRIP_OUTER_ARRAY = FALSE;

-- The stage points at the landing prefix; this table's files are under {stream}/.
CREATE STAGE IF NOT EXISTS {stage}
    URL = '{url}'
    STORAGE_INTEGRATION = {si}
    FILE_FORMAT = {ff};

-- Check access: lists the landed data files (manifests excluded by the PATTERN).
LIST @{stage}/{stream}/ PATTERN = '{pattern}';
",
        si = o.storage_integration,
        arn = o.aws_role_arn,
        url = o.stage_url,
        pr = o.pipeline_role,
        ff = n.file_format,
        stage = n.stage,
        stream = spec.stream,
        pattern = LANDED_PATTERN,
    )
}

fn raw_and_pipe(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let pipe_name = format!("{}_PIPE", spec.name.to_ascii_uppercase());
    format!(
        "USE ROLE {pr};

-- One row per landed line: the record and meta as VARIANT, plus where and when it was
-- loaded from (file name relative to the stage, 1-based line number, load time).
CREATE TABLE IF NOT EXISTS {raw} (
    RECORD VARIANT,
    META VARIANT,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38, 0),
    LOADED_AT TIMESTAMP_LTZ
)
CHANGE_TRACKING = TRUE;

-- Snowpipe loads each file once (its load history is keyed by file name for 14 days), so
-- re-sent S3 events do not duplicate rows. Load metadata comes from METADATA$ columns,
-- not CURRENT_TIMESTAMP. A bad line is skipped (ON_ERROR = CONTINUE) and shows in
-- COPY_HISTORY.
CREATE PIPE IF NOT EXISTS {pipe}
    AUTO_INGEST = TRUE
    COMMENT = 'snowstream: landed {stream} files into {raw}'
AS
COPY INTO {raw} (RECORD, META, FILE_NAME, FILE_ROW_NUMBER, LOADED_AT)
FROM (
    SELECT
        $1:record,
        $1:meta,
        METADATA$FILENAME,
        METADATA$FILE_ROW_NUMBER,
        METADATA$START_SCAN_TIME
    FROM @{stage}/{stream}/
)
PATTERN = '{pattern}'
ON_ERROR = CONTINUE;

-- S3 event notifications: the notification_channel column of SHOW PIPES is the ARN of
-- the SQS queue Snowflake listens on. In the bucket's properties add an event
-- notification for s3:ObjectCreated:* on the landing prefix (suffix filter optional)
-- with that SQS queue as destination. See sql/README.md.
SHOW PIPES LIKE '{pipe_name}' IN SCHEMA {raw_schema};

-- Loads files that were already in the stage before the notification was wired
-- (files modified in the last 7 days). Safe to repeat: loaded files are skipped.
ALTER PIPE {pipe} REFRESH;
",
        pr = o.pipeline_role,
        raw = n.raw,
        pipe = n.pipe,
        raw_schema = n.raw_schema,
        stage = n.stage,
        stream = spec.stream,
        pattern = LANDED_PATTERN,
    )
}

fn streams(n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE {pr};

-- Two append-only streams, one per task: each consumer has its own offset, so the SCD1
-- and SCD2 tasks advance independently and a failure of one never loses rows for the
-- other. Append-only: the raw table only ever receives inserts.
CREATE STREAM IF NOT EXISTS {ls}
    ON TABLE {raw}
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS {hs}
    ON TABLE {raw}
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;
",
        pr = o.pipeline_role,
        ls = n.latest_stream,
        hs = n.history_stream,
        raw = n.raw,
    )
}

fn snowflake_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "NUMBER(38, 0)",
        ColumnType::Float => "FLOAT",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::String => "VARCHAR",
        ColumnType::Timestamp => "TIMESTAMP_NTZ(3)",
    }
}

fn col(c: &Column) -> String {
    c.name.to_ascii_uppercase()
}

/// The typed projection of a stream row: like `TRY_CAST`, a value that does not fit the
/// column type becomes NULL (rows with a NULL key or event time are skipped).
fn typed_select(spec: &TableSpec, indent: usize) -> String {
    let mut lines: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let field = format!("s.RECORD:{}", c.name);
            match c.ty {
                ColumnType::String => format!("{field}::VARCHAR AS {}", col(c)),
                ty => format!(
                    "TRY_CAST({field}::VARCHAR AS {}) AS {}",
                    snowflake_type(ty),
                    col(c)
                ),
            }
        })
        .collect();
    lines.push(format!(
        "COALESCE(s.RECORD:{}::VARCHAR = '{}', FALSE) AS IS_DELETED",
        spec.delete_marker.column, spec.delete_marker.value
    ));
    lines.push("s.FILE_NAME".into());
    lines.push("s.FILE_ROW_NUMBER".into());
    lines.join(&format!(",\n{}", " ".repeat(indent)))
}

fn key_cols(spec: &TableSpec) -> Vec<String> {
    spec.key.iter().map(|k| k.to_ascii_uppercase()).collect()
}

fn not_null_filter(spec: &TableSpec) -> String {
    key_cols(spec)
        .into_iter()
        .chain([spec.event_time.to_ascii_uppercase()])
        .map(|c| format!("{c} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn join_on(spec: &TableSpec, left: &str, right: &str) -> String {
    key_cols(spec)
        .iter()
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn column_ddl(spec: &TableSpec) -> String {
    spec.columns
        .iter()
        .map(|c| {
            let not_null = if spec.key.contains(&c.name) || c.name == spec.event_time {
                " NOT NULL"
            } else {
                ""
            };
            format!("    {} {}{not_null},\n", col(c), snowflake_type(c.ty))
        })
        .collect()
}

/// The SCD1 `MERGE` reading `source` (the stream; a stand-in table in tests).
pub fn scd1_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    let et = spec.event_time.to_ascii_uppercase();
    let keys = key_cols(spec).join(", ");
    let cols: Vec<String> = spec.columns.iter().map(col).collect();
    let updates: Vec<String> = spec
        .non_key_columns()
        .map(col)
        .chain(["IS_DELETED".to_string()])
        .map(|c| format!("t.{c} = s.{c}"))
        .collect();
    let values: Vec<String> = cols
        .iter()
        .chain(&["IS_DELETED".to_string()])
        .map(|c| format!("s.{c}"))
        .collect();
    format!(
        "MERGE INTO {latest} AS t
USING (
    -- Newest version per key in this batch: event time, then file name, then row
    -- number (later wins). One source row per key, so the MERGE never hits
    -- \"Duplicate row detected during DML action\".
    SELECT *
    FROM (
        SELECT
            {typed}
        FROM {source} AS s
    ) AS typed
    WHERE {not_null}
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY {keys}
        ORDER BY {et} DESC, FILE_NAME DESC, FILE_ROW_NUMBER DESC
    ) = 1
) AS s
ON {on}
-- Only a strictly newer version is applied: duplicates, replays and late older versions
-- change nothing, and a tombstone (IS_DELETED, keeping its {et}) blocks older updates.
WHEN MATCHED AND s.{et} > t.{et} THEN UPDATE SET
    {updates}
WHEN NOT MATCHED THEN INSERT ({cols}, IS_DELETED)
    VALUES ({values})",
        latest = n.latest,
        typed = typed_select(spec, 12),
        not_null = not_null_filter(spec),
        on = join_on(spec, "t", "s"),
        updates = updates.join(",\n    "),
        cols = cols.join(", "),
        values = values.join(", "),
    )
}

/// The SCD2 `MERGE` reading `source` (the stream; a stand-in table in tests).
pub fn scd2_merge(spec: &TableSpec, o: &RenderOptions, source: &str) -> String {
    let n = Names::new(spec, o);
    let et = spec.event_time.to_ascii_uppercase();
    let keys = key_cols(spec).join(", ");
    let cols: Vec<String> = spec.columns.iter().map(col).collect();
    let prefixed = |p: &str| {
        cols.iter()
            .map(|c| format!("{p}.{c}"))
            .chain([format!("{p}.IS_DELETED")])
            .collect::<Vec<_>>()
            .join(", ")
    };
    let v_keys: Vec<String> = key_cols(spec).iter().map(|k| format!("v.{k}")).collect();
    let values: Vec<String> = cols.iter().map(|c| format!("s.{c}")).collect();
    format!(
        "MERGE INTO {history} AS t
USING (
    WITH incoming AS (
        -- Distinct versions in this batch: exact duplicates (same key and {et})
        -- collapse to one row, the latest by file name and row number.
        SELECT *
        FROM (
            SELECT
                {typed}
            FROM {source} AS s
        ) AS typed
        WHERE {not_null}
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY {keys}, {et}
            ORDER BY FILE_NAME DESC, FILE_ROW_NUMBER DESC
        ) = 1
    ),
    versions AS (
        -- Every stored version of the keys in this batch...
        SELECT {h_cols}
        FROM {history} AS h
        WHERE EXISTS (SELECT 1 FROM incoming AS i WHERE {i_h})
        UNION ALL
        -- ...plus the batch's versions not stored yet (replays add nothing).
        SELECT {i_cols}
        FROM incoming AS i
        WHERE NOT EXISTS (
            SELECT 1 FROM {history} AS h
            WHERE {i_h} AND h.VALID_FROM = i.{et}
        )
    )
    -- The rebuilt history of those keys: each version is valid until the next one, so a
    -- late version lands in its place and splits the interval it falls into.
    SELECT
        v.*,
        v.{et} AS VALID_FROM,
        LEAD(v.{et}) OVER (PARTITION BY {v_keys} ORDER BY v.{et}) AS VALID_TO
    FROM versions AS v
) AS s
ON {on} AND t.VALID_FROM = s.VALID_FROM
WHEN MATCHED AND NOT EQUAL_NULL(t.VALID_TO, s.VALID_TO) THEN UPDATE SET
    t.VALID_TO = s.VALID_TO,
    t.IS_CURRENT = (s.VALID_TO IS NULL)
WHEN NOT MATCHED THEN INSERT ({cols}, VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED)
    VALUES ({values}, s.VALID_FROM, s.VALID_TO, (s.VALID_TO IS NULL), s.IS_DELETED)",
        history = n.history,
        typed = typed_select(spec, 16),
        not_null = not_null_filter(spec),
        h_cols = prefixed("h"),
        i_cols = prefixed("i"),
        i_h = join_on(spec, "i", "h"),
        v_keys = v_keys.join(", "),
        on = join_on(spec, "t", "s"),
        cols = cols.join(", "),
        values = values.join(", "),
    )
}

fn task(name: &str, stream: &str, o: &RenderOptions, body: &str) -> String {
    format!(
        "CREATE OR REPLACE TASK {name}
    WAREHOUSE = {wh}
    SCHEDULE = '{schedule}'
    WHEN SYSTEM$STREAM_HAS_DATA('{stream}')
AS
{body};

-- Tasks are created suspended.
ALTER TASK {name} RESUME;
",
        wh = o.warehouse,
        schedule = o.task_schedule,
    )
}

fn scd1(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let key = key_cols(spec).join(", ");
    format!(
        "USE ROLE {pr};

-- One row per key: the newest version, deletes kept as tombstones (IS_DELETED = TRUE).
CREATE TABLE IF NOT EXISTS {latest} (
{cols}    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY ({key})
);

-- The task body is a single MERGE: it consumes the stream atomically (the stream offset
-- advances only if the MERGE commits), so a failed run is simply retried.
{task}",
        pr = o.pipeline_role,
        latest = n.latest,
        cols = column_ddl(spec),
        task = task(
            &n.latest_task,
            &n.latest_stream,
            o,
            &scd1_merge(spec, o, &n.latest_stream)
        ),
    )
}

fn scd2(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let key = key_cols(spec).join(", ");
    format!(
        "USE ROLE {pr};

-- One row per distinct (key, {et}) version. VALID_TO is the next version's {et}
-- (NULL for the current one). Late versions are placed correctly, not dropped.
CREATE TABLE IF NOT EXISTS {history} (
{cols}    VALID_FROM TIMESTAMP_NTZ(3) NOT NULL,
    VALID_TO TIMESTAMP_NTZ(3),
    IS_CURRENT BOOLEAN NOT NULL,
    IS_DELETED BOOLEAN NOT NULL,
    PRIMARY KEY ({key}, VALID_FROM)
);

-- A separate task on its own stream (not a second statement in the SCD1 task): a single
-- MERGE consumes its stream atomically without an explicit transaction, and the two
-- tables progress independently.
{task}",
        pr = o.pipeline_role,
        et = spec.event_time.to_ascii_uppercase(),
        history = n.history,
        cols = column_ddl(spec),
        task = task(
            &n.history_task,
            &n.history_stream,
            o,
            &scd2_merge(spec, o, &n.history_stream)
        ),
    )
}

fn monitoring(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE {pr};
USE WAREHOUSE {wh};

-- Pipe health: executionState should be RUNNING; pendingFileCount drains to 0.
SELECT SYSTEM$PIPE_STATUS('{pipe}');

-- Files loaded (or not) in the last 24 hours, with row counts and first errors.
SELECT file_name, status, row_count, row_parsed, first_error_message, last_load_time
FROM TABLE({db}.INFORMATION_SCHEMA.COPY_HISTORY(
    TABLE_NAME => '{raw}',
    START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
))
ORDER BY last_load_time DESC;

-- Task runs of the last 24 hours: state SUCCEEDED, FAILED (see error_message) or SKIPPED.
SELECT name, state, scheduled_time, completed_time, error_message
FROM TABLE({db}.INFORMATION_SCHEMA.TASK_HISTORY(
    SCHEDULED_TIME_RANGE_START => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())
))
WHERE name IN ('{lt}', '{ht}')
ORDER BY scheduled_time DESC;

-- Stream staleness: a stream not consumed within the table's data retention goes stale
-- (stale = true) and must be recreated. stale_after says when that would happen.
SHOW STREAMS IN SCHEMA {raw_schema};
SELECT \"name\", \"stale\", \"stale_after\", \"mode\"
FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()));

-- Rows waiting in each stream (should return to FALSE shortly after loads stop).
SELECT
    SYSTEM$STREAM_HAS_DATA('{ls}') AS latest_pending,
    SYSTEM$STREAM_HAS_DATA('{hs}') AS history_pending;

-- Row counts along the pipeline.
SELECT
    (SELECT COUNT(*) FROM {raw}) AS raw_rows,
    (SELECT COUNT(*) FROM {latest}) AS latest_rows,
    (SELECT COUNT(*) FROM {latest} WHERE NOT IS_DELETED) AS live_rows,
    (SELECT COUNT(*) FROM {history}) AS history_rows;

-- Invariant: exactly one current history row per {key_name}.
SELECT {keys}, COUNT(*) AS current_rows
FROM {history}
WHERE IS_CURRENT
GROUP BY {keys}
HAVING COUNT(*) <> 1;
",
        pr = o.pipeline_role,
        wh = o.warehouse,
        pipe = n.pipe,
        db = n.db,
        raw = n.raw,
        lt = n.latest_task.rsplit('.').next().unwrap_or_default(),
        ht = n.history_task.rsplit('.').next().unwrap_or_default(),
        raw_schema = n.raw_schema,
        ls = n.latest_stream,
        hs = n.history_stream,
        latest = n.latest,
        history = n.history,
        key_name = spec.key.join(", "),
        keys = key_cols(spec).join(", "),
    )
}

fn teardown(n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE ACCOUNTADMIN;

ALTER TASK IF EXISTS {lt} SUSPEND;
ALTER TASK IF EXISTS {ht} SUSPEND;
DROP TASK IF EXISTS {lt};
DROP TASK IF EXISTS {ht};
DROP STREAM IF EXISTS {ls};
DROP STREAM IF EXISTS {hs};
DROP PIPE IF EXISTS {pipe};
DROP TABLE IF EXISTS {latest};
DROP TABLE IF EXISTS {history};
DROP TABLE IF EXISTS {raw};
DROP STAGE IF EXISTS {stage};
DROP FILE FORMAT IF EXISTS {ff};
DROP SCHEMA IF EXISTS {core_schema};
DROP SCHEMA IF EXISTS {raw_schema};
DROP DATABASE IF EXISTS {db};
DROP STORAGE INTEGRATION IF EXISTS {si};
DROP WAREHOUSE IF EXISTS {wh};
DROP ROLE IF EXISTS {rr};
DROP ROLE IF EXISTS {pr};
",
        lt = n.latest_task,
        ht = n.history_task,
        ls = n.latest_stream,
        hs = n.history_stream,
        pipe = n.pipe,
        latest = n.latest,
        history = n.history,
        raw = n.raw,
        stage = n.stage,
        ff = n.file_format,
        core_schema = n.core_schema,
        raw_schema = n.raw_schema,
        db = n.db,
        si = o.storage_integration,
        wh = o.warehouse,
        rr = o.reader_role,
        pr = o.pipeline_role,
    )
}

/// Writes the rendered scripts into `dir` (created if needed); returns the paths.
pub fn write(
    spec: &TableSpec,
    o: &RenderOptions,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, crate::Error> {
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let mut out = Vec::new();
    for (name, sql) in render(spec, o) {
        let path = dir.join(name);
        std::fs::write(&path, sql).map_err(|e| crate::Error::Io {
            context: format!("writing {}", path.display()),
            source: e,
        })?;
        out.push(path);
    }
    Ok(out)
}
