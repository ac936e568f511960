-- snowstream: Snowflake objects for table `customers` (landing stream `customers`).
-- Rendered from the table spec by `snowstream sql`; do not edit by hand.
-- Step 2 of 7: storage integration, file format and external stage.

-- Creating an integration needs ACCOUNTADMIN (or CREATE INTEGRATION on the account).
USE ROLE ACCOUNTADMIN;

CREATE STORAGE INTEGRATION IF NOT EXISTS SNOWSTREAM_S3
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/snowstream-snowflake'
    STORAGE_ALLOWED_LOCATIONS = ('s3://my-landing-bucket/snowstream/');

GRANT USAGE ON INTEGRATION SNOWSTREAM_S3 TO ROLE SNOWSTREAM_PIPELINE;

-- STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID from this output go into the
-- trust policy of the IAM role above (see sql/README.md).
DESC INTEGRATION SNOWSTREAM_S3;

USE ROLE SNOWSTREAM_PIPELINE;

-- Landed files are NDJSON, one {"record":{...},"meta":{...}} object per line,
-- zstd (.ndjson.zst) or gzip (.ndjson.gz); AUTO detects both.
CREATE FILE FORMAT IF NOT EXISTS SNOWSTREAM.RAW.LANDED_NDJSON
    TYPE = JSON
    COMPRESSION = AUTO
    STRIP_OUTER_ARRAY = FALSE;

-- The stage points at the landing prefix; this table's files are under customers/.
CREATE STAGE IF NOT EXISTS SNOWSTREAM.RAW.LANDING_STAGE
    URL = 's3://my-landing-bucket/snowstream/'
    STORAGE_INTEGRATION = SNOWSTREAM_S3
    FILE_FORMAT = SNOWSTREAM.RAW.LANDED_NDJSON;

-- Check access: lists the landed data files (manifests excluded by the PATTERN).
LIST @SNOWSTREAM.RAW.LANDING_STAGE/customers/ PATTERN = '.*/[^./][^/]*[.]ndjson[.](zst|gz)$';
