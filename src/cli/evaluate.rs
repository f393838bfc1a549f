//! `netvigil evaluate`: detection metrics of a model bundle on labelled flows.

use std::path::PathBuf;

use clap::Args;

use super::InputArgs;
use crate::ingest::read_flows;
use crate::model::inference::{DeviceChoice, Scorer};
use crate::train::Metrics;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model bundle directory (e.g. models/default).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
}

pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let (scorer, _bundle, selected) = Scorer::load(&args.model, args.device)?;
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    let Some(truth) = table.families() else {
        anyhow::bail!("evaluate needs labelled flows: these files have no Label column (use `predict`)");
    };
    let verdicts = scorer.score_table(&table);
    let metrics = Metrics::compute(&verdicts, &truth);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
    } else {
        eprintln!("{} flows scored on {}", verdicts.len(), selected.description);
        print!("{}", metrics.to_text());
    }
    Ok(())
}
