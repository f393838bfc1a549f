//! `netvigil convert`: the normalised table on disk.

use std::path::PathBuf;

use clap::Args;

use super::InputArgs;
use crate::ingest::{export, read_flows};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .csv or .parquet.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

pub fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    export::OutputFormat::from_path(&args.output)?;
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    export::write_table(&table, &args.output)?;
    eprintln!("wrote {} flows to {}", table.len(), args.output.display());
    Ok(())
}
