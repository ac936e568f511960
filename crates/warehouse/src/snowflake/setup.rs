//! Account-level scripts: database, roles and grants (step 1), the storage integration,
//! file format and stage (step 2), and the teardown that drops it all.

use super::pipe::LANDED_PATTERN;
use super::{Names, RenderOptions};
use crate::spec::TableSpec;

pub(super) fn setup(n: &Names, o: &RenderOptions) -> String {
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
GRANT USAGE, CREATE TABLE, CREATE VIEW, CREATE TASK ON SCHEMA {core_schema} TO ROLE {pr};
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

pub(super) fn stage(spec: &TableSpec, n: &Names, o: &RenderOptions) -> String {
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

pub(super) fn teardown(n: &Names, o: &RenderOptions) -> String {
    format!(
        "USE ROLE ACCOUNTADMIN;

ALTER TASK IF EXISTS {lt} SUSPEND;
ALTER TASK IF EXISTS {ht} SUSPEND;
ALTER TASK IF EXISTS {rt} SUSPEND;
DROP TASK IF EXISTS {lt};
DROP TASK IF EXISTS {ht};
DROP TASK IF EXISTS {rt};
DROP STREAM IF EXISTS {ls};
DROP STREAM IF EXISTS {hs};
DROP STREAM IF EXISTS {rs};
DROP PIPE IF EXISTS {pipe};
DROP TABLE IF EXISTS {latest};
DROP TABLE IF EXISTS {history};
DROP TABLE IF EXISTS {rejects};
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
        rt = n.rejects_task,
        rs = n.rejects_stream,
        rejects = n.rejects,
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
