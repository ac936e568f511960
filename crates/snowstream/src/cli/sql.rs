//! `snowstream sql`: renders the Snowflake objects (stage, pipe, streams, SCD1/SCD2 tasks,
//! monitoring) for a table spec, printed or written as numbered scripts; with `--from-spec`,
//! the migration script from an older spec.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::load_spec;

/// `snowstream sql`: renders the Snowflake objects for a table spec.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// Table spec (TOML). [default: the built-in customers spec, specs/customers.toml]
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Write the numbered scripts into this folder instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The spec the existing Snowflake objects were made from: render only the migration
    /// to --spec (new columns appended: ALTER TABLE, backfill from the raw VARIANT, task
    /// replacement), as `migrate.sql` in --out or printed.
    #[arg(long)]
    pub from_spec: Option<PathBuf>,
    /// Database to create.
    #[arg(long, default_value = "SNOWSTREAM")]
    pub database: String,
    /// Stage URL: the bucket and prefix snowstream lands into, e.g. s3://my-bucket/raw/.
    #[arg(long, default_value = "s3://my-landing-bucket/snowstream/")]
    pub stage_url: String,
    /// IAM role Snowflake assumes to read the bucket (storage integration).
    #[arg(
        long,
        default_value = "arn:aws:iam::123456789012:role/snowstream-snowflake"
    )]
    pub aws_role_arn: String,
    /// Virtual warehouse the tasks run on.
    #[arg(long, default_value = "SNOWSTREAM_WH")]
    pub warehouse: String,
    /// REST mode: render the pipe with AUTO_INGEST = FALSE for snowstream's notifier
    /// (--snowpipe-*), and a role for this Snowflake user with what Snowpipe's REST API needs,
    /// made its default role. [default: auto-ingest from S3 event notifications]
    #[arg(long)]
    pub rest_user: Option<String>,
}

pub fn sql(args: SqlArgs) -> Result<()> {
    let spec = load_spec(args.spec.as_ref())?;
    let opts = warehouse::snowflake::RenderOptions {
        database: args.database,
        stage_url: args.stage_url,
        aws_role_arn: args.aws_role_arn,
        warehouse: args.warehouse,
        rest_user: args.rest_user,
        ..Default::default()
    };
    if let Some(old) = args.from_spec.as_ref() {
        let old = load_spec(Some(old))?;
        let text = warehouse::snowflake::render_migration(&old, &spec, &opts)?;
        match args.out {
            Some(dir) => {
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("migrate.sql");
                std::fs::write(&path, text)?;
                println!("{}", path.display());
            }
            None => print!("{text}"),
        }
        return Ok(());
    }
    match args.out {
        Some(dir) => {
            for p in warehouse::snowflake::write(&spec, &opts, &dir)? {
                println!("{}", p.display());
            }
        }
        None => {
            for (name, text) in warehouse::snowflake::render(&spec, &opts) {
                println!("-- ===== {name} =====\n{text}");
            }
        }
    }
    Ok(())
}
