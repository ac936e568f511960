//! `snowstream query`: one read-only SQL statement on the local warehouse (SQLite), printed
//! as a table or JSON lines.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use warehouse::Warehouse;

use super::load_spec;

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
