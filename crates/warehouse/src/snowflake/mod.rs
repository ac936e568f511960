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
//! - SCD1 keeps per key the greatest version in one total order (event time, then a delete
//!   above an update, then the column values; the stored row wins an exact tie), so the
//!   result never depends on which file or batch a version arrived in, and keeps deletes as
//!   tombstones.
//! - SCD2 inserts each new distinct (key, event time) and, in the same MERGE, recomputes
//!   `valid_to`/`is_current` over the whole history of every key in the batch, so late
//!   versions are placed where they belong and replays change nothing.

mod columns;
mod migration;
mod monitoring;
mod pipe;
mod rejects;
mod scd1;
mod scd2;
mod setup;

use crate::spec::TableSpec;

pub use migration::render_migration;
pub use rejects::rejects_merge;
pub use scd1::scd1_merge;
pub use scd2::scd2_merge;

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
    /// REST mode: the Snowflake user snowstream's notifier calls Snowpipe's REST API as. The
    /// pipe is rendered with `AUTO_INGEST = FALSE` (files are named by `insertFiles`, not S3
    /// events), with a role holding what the REST API needs, made the user's default role.
    /// `None`: auto-ingest from S3 event notifications.
    pub rest_user: Option<String>,
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
            rest_user: None,
        }
    }
}

/// Object names derived from the spec and options.
pub(super) struct Names {
    pub(super) db: String,
    pub(super) raw_schema: String,
    pub(super) core_schema: String,
    pub(super) file_format: String,
    pub(super) stage: String,
    pub(super) raw: String,
    pub(super) pipe: String,
    pub(super) latest_stream: String,
    pub(super) history_stream: String,
    pub(super) latest: String,
    pub(super) history: String,
    pub(super) latest_task: String,
    pub(super) history_task: String,
    pub(super) rejects: String,
    pub(super) rejects_stream: String,
    pub(super) rejects_task: String,
}

impl Names {
    pub(super) fn new(spec: &TableSpec, o: &RenderOptions) -> Self {
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
            rejects: core(spec.rejects_table()),
            rejects_stream: raw(spec.rejects_stream()),
            rejects_task: core(format!("{}_task", spec.rejects_table())),
        }
    }
}

/// The numbered scripts but the teardown, in the order to run them: file name and what the
/// script makes.
const STEPS: [(&str, &str); 7] = [
    (
        "01_setup.sql",
        "database, schemas, warehouse, roles and grants.",
    ),
    (
        "02_stage.sql",
        "storage integration, file format and external stage.",
    ),
    (
        "03_raw_table_and_pipe.sql",
        "raw table and the auto-ingest pipe that fills it.",
    ),
    (
        "04_streams.sql",
        "append-only streams on the raw table, one per task, and the rejects table and task.",
    ),
    (
        "05_scd1_latest.sql",
        "SCD1 latest table and the task that maintains it.",
    ),
    (
        "06_scd2_history.sql",
        "SCD2 history table and the task that maintains it.",
    ),
    ("07_monitoring.sql", "monitoring queries (run any time)."),
];

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
    let bodies: [String; STEPS.len()] = [
        setup::setup(&n, o),
        setup::stage(spec, &n, o),
        pipe::raw_and_pipe(spec, &n, o),
        pipe::streams(&n, o) + &rejects::rejects(spec, &n, o),
        scd1::scd1(spec, &n, o),
        scd2::scd2(spec, &n, o),
        monitoring::monitoring(spec, &n, o),
    ];
    let mut scripts: Vec<(String, String)> = STEPS
        .iter()
        .zip(bodies)
        .enumerate()
        .map(|(i, ((file, what), sql))| {
            let step = format!("Step {} of {}", i + 1, STEPS.len());
            ((*file).to_owned(), header(&step, what) + &sql)
        })
        .collect();
    scripts.push((
        "99_teardown.sql".into(),
        header("Teardown", "drops everything above. DESTROYS DATA.") + &setup::teardown(&n, o),
    ));
    scripts
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
