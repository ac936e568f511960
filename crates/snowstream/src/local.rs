//! `snowstream query` and `snowstream sql`: the local warehouse's SQL prompt, and the
//! Snowflake SQL renderer for a table spec.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use warehouse::{TableSpec, Warehouse};

/// `snowstream query`: runs one read-only SQL statement on the local warehouse.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The SQLite file of the local warehouse.
    #[arg(long, default_value = "data/demo/warehouse.db")]
    pub db: PathBuf,
    /// Table spec (TOML). [default: the built-in customers spec]
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Print rows as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The SQL statement.
    pub sql: String,
}

pub fn query(args: QueryArgs) -> Result<()> {
    if !args.db.exists() {
        bail!(
            "{} does not exist: run `snowstream demo` first, or pass --db",
            args.db.display()
        );
    }
    let spec = load_spec(args.spec.as_ref())?;
    let wh = Warehouse::open(&args.db, &spec)?;
    let result = wh.query(&args.sql)?;
    if args.json {
        for row in &result.rows {
            let obj: serde_json::Map<String, serde_json::Value> = result
                .columns
                .iter()
                .cloned()
                .zip(row.iter().cloned())
                .collect();
            println!("{}", serde_json::Value::Object(obj));
        }
        return Ok(());
    }
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.chars().count()).collect();
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count()).min(60);
        }
    }
    let line = |vals: &[String]| {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!("{}", line(&result.columns));
    println!(
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for r in &cells {
        println!("{}", line(r));
    }
    println!(
        "({} row{})",
        cells.len(),
        if cells.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::String(s) => s.replace('\n', "⏎"),
        other => other.to_string(),
    }
}

pub fn load_spec(path: Option<&PathBuf>) -> Result<TableSpec> {
    Ok(match path {
        Some(p) => TableSpec::from_file(p)?,
        None => TableSpec::customers(),
    })
}

/// `snowstream sql`: renders the Snowflake objects for a table spec.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// Table spec (TOML). [default: the built-in customers spec, specs/customers.toml]
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Write the numbered scripts into this folder instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
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
}

pub fn sql(args: SqlArgs) -> Result<()> {
    let spec = load_spec(args.spec.as_ref())?;
    let opts = warehouse::snowflake::RenderOptions {
        database: args.database,
        stage_url: args.stage_url,
        aws_role_arn: args.aws_role_arn,
        warehouse: args.warehouse,
        ..Default::default()
    };
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
