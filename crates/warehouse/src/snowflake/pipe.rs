//! The raw table and its auto-ingest pipe (step 3), and the two streams on it (step 4).

use records::landed::Envelope;

use super::{Names, RenderOptions};
use crate::spec::TableSpec;

/// PATTERN of landed data files: `*.ndjson.zst` / `*.ndjson.gz`, not hidden temp files
/// and not the `*.manifest.json` written beside each file.
pub(super) const LANDED_PATTERN: &str = ".*/[^./][^/]*[.]ndjson[.](zst|gz)$";

/// What the pipe's SELECT takes as RECORD and META, with the comment saying why, by the
/// spec's envelope. A `record` line is the record itself and carries no META: its lineage is
/// FILE_NAME (stream, instance and first sequence number are in the name) and
/// FILE_ROW_NUMBER (sequence number = first + row - 1), see sql/README.md.
fn record_and_meta(envelope: Envelope) -> (&'static str, &'static str, &'static str) {
    match envelope {
        Envelope::Meta => ("", "$1:record", "$1:meta"),
        Envelope::Record => (
            "-- Envelope record: each line is the record alone, so RECORD is the whole line and
-- META is NULL; the lineage is FILE_NAME ({stream}/dt=…/hh=…/{instance}-{first_seq}…) and
-- FILE_ROW_NUMBER (sequence number = first_seq + FILE_ROW_NUMBER - 1).
",
            "$1",
            "NULL",
        ),
    }
}

pub(super) fn raw_and_pipe(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
    let pipe_name = format!("{}_PIPE", spec.name.to_ascii_uppercase());
    let (envelope_note, record, meta) = record_and_meta(spec.envelope);
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
-- not CURRENT_TIMESTAMP. ON_ERROR = CONTINUE: for JSON a parse error loads the rows before
-- it and skips the rest of the file (PARTIALLY_LOADED in COPY_HISTORY); snowstream refuses
-- such lines (invalid JSON, a key twice) before they land. IF NOT EXISTS: a changed definition does not take effect when this script
-- is re-run; see \"Re-deploying the pipe\" in sql/README.md (recreating loses load history).
{envelope_note}CREATE PIPE IF NOT EXISTS {pipe}
    AUTO_INGEST = {auto_ingest}
    COMMENT = 'snowstream: landed {stream} files into {raw}'
AS
COPY INTO {raw} (RECORD, META, FILE_NAME, FILE_ROW_NUMBER, LOADED_AT)
FROM (
    SELECT
        {record},
        {meta},
        METADATA$FILENAME,
        METADATA$FILE_ROW_NUMBER,
        METADATA$START_SCAN_TIME
    FROM @{stage}/{stream}/
)
PATTERN = '{pattern}'
ON_ERROR = CONTINUE;
{trigger}
-- Loads files that were already in the stage before the notification was wired
-- (files modified in the last 7 days). Safe to repeat: loaded files are skipped.
ALTER PIPE {pipe} REFRESH;
",
        pr = o.pipeline_role,
        raw = n.raw,
        pipe = n.pipe,
        stage = n.stage,
        stream = spec.stream,
        pattern = LANDED_PATTERN,
        auto_ingest = if o.rest_user.is_some() {
            "FALSE"
        } else {
            "TRUE"
        },
        trigger = match &o.rest_user {
            None => auto_ingest_trigger(&pipe_name, n),
            Some(user) => rest_trigger(spec, user, n, o),
        },
    )
}

/// How files reach an auto-ingest pipe: S3 event notifications on its SQS queue.
fn auto_ingest_trigger(pipe_name: &str, n: &Names) -> String {
    format!(
        "
-- S3 event notifications: the notification_channel column of SHOW PIPES is the ARN of
-- the SQS queue Snowflake listens on. In the bucket's properties add an event
-- notification for s3:ObjectCreated:* on the landing prefix (suffix filter optional)
-- with that SQS queue as destination. See sql/README.md.
SHOW PIPES LIKE '{pipe_name}' IN SCHEMA {raw_schema};
",
        raw_schema = n.raw_schema,
    )
}

/// How files reach a REST pipe: snowstream's notifier names each in `insertFiles`, as `user`,
/// whose default role holds what the REST API needs (Snowflake's "Set up the Snowpipe REST
/// API", step "Configure security": USAGE on the database, schema, stage and file format, INSERT and
/// SELECT on the table, the pipe, and the role as the user's default role). Paths are
/// relative to the pipe's location, `@stage/{stream}/`: snowstream's
/// `--snowpipe-strip-prefix` default (`PREFIX/STREAM`) matches it.
fn rest_trigger(spec: &TableSpec, user: &str, n: &Names, o: &RenderOptions) -> String {
    let role = format!("{}_SNOWPIPE_REST", spec.name.to_ascii_uppercase());
    format!(
        "
-- REST mode (AUTO_INGEST = FALSE): snowstream's notifier calls insertFiles for each file it
-- lands, as {user}, with key-pair authentication; its default role holds what Snowpipe's
-- REST API needs. Set the user's public key first:
--   ALTER USER {user} SET RSA_PUBLIC_KEY = '<base64 of rsa_key.pub>';
USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS {role};
GRANT USAGE ON DATABASE {db} TO ROLE {role};
GRANT USAGE ON SCHEMA {raw_schema} TO ROLE {role};
GRANT USAGE ON STAGE {stage} TO ROLE {role};
GRANT USAGE ON FILE FORMAT {file_format} TO ROLE {role};
GRANT INSERT, SELECT ON TABLE {raw} TO ROLE {role};
GRANT OPERATE, MONITOR ON PIPE {pipe} TO ROLE {role};
GRANT ROLE {role} TO USER {user};
ALTER USER {user} SET DEFAULT_ROLE = {role};
USE ROLE {pr};
",
        db = n.db,
        raw_schema = n.raw_schema,
        stage = n.stage,
        file_format = n.file_format,
        raw = n.raw,
        pipe = n.pipe,
        pr = o.pipeline_role,
    )
}

pub(super) fn streams(n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE {pr};

-- Three append-only streams, one per task: each consumer has its own offset, so the SCD1,
-- SCD2 and rejects tasks advance independently and a failure of one never loses rows for
-- another. Append-only: the raw table only ever receives inserts.
CREATE STREAM IF NOT EXISTS {ls}
    ON TABLE {raw}
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS {hs}
    ON TABLE {raw}
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;

CREATE STREAM IF NOT EXISTS {rs}
    ON TABLE {raw}
    APPEND_ONLY = TRUE
    SHOW_INITIAL_ROWS = TRUE;
",
        pr = o.pipeline_role,
        rs = n.rejects_stream,
        ls = n.latest_stream,
        hs = n.history_stream,
        raw = n.raw,
    )
}
