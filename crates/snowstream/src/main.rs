//! The `snowstream` command.

use clap::Parser;

#[derive(Parser)]
#[command(name = "snowstream", version, about = "Stream NiFi records into Snowflake-ready files")]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
