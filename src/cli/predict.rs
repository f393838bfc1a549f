//! `netvigil predict`: score flow files with a model bundle.

use std::path::PathBuf;

use clap::Args;
use polars::prelude::{Column, DataFrame};

use super::InputArgs;
use crate::ingest::export::{OutputFormat, metadata_frame, write_frame};
use crate::ingest::label::AttackFamily;
use crate::ingest::read_flows;
use crate::model::inference::{DeviceChoice, Scorer, Verdict};

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model bundle directory (e.g. models/default).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .csv or .parquet.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
}

/// The input's metadata plus P(attack), predicted family, a probability per family and the
/// two gate weights.
pub fn verdict_frame(mut df: DataFrame, verdicts: &[Verdict]) -> polars::prelude::PolarsResult<DataFrame> {
    let col = |name: &str, f: &dyn Fn(&Verdict) -> f32| Column::new(name.into(), verdicts.iter().map(f).collect::<Vec<f32>>());
    df.with_column(col("P(attack)", &|v| v.p_attack))?;
    df.with_column(Column::new("Predicted Family".into(), verdicts.iter().map(|v| v.family.name()).collect::<Vec<_>>()))?;
    for family in AttackFamily::ALL {
        df.with_column(col(&format!("P({})", family.name()), &|v| v.family_probs[family.index()]))?;
    }
    df.with_column(col("Gate Tabular", &|v| v.gate[0]))?;
    df.with_column(col("Gate Temporal", &|v| v.gate[1]))?;
    Ok(df)
}

pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    OutputFormat::from_path(&args.output)?;
    let (scorer, _bundle, selected) = Scorer::load(&args.model, args.device)?;
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    let started = std::time::Instant::now();
    let verdicts = scorer.score_table(&table);
    let seconds = started.elapsed().as_secs_f64();
    let mut df = verdict_frame(metadata_frame(&table)?, &verdicts)?;
    write_frame(&mut df, &args.output)?;
    let attacks = verdicts.iter().filter(|v| v.is_attack()).count();
    eprintln!(
        "scored {} flows on {} in {:.2} s ({:.0} flows/s): {} flagged as attacks; wrote {}",
        verdicts.len(),
        selected.description,
        seconds,
        verdicts.len() as f64 / seconds.max(1e-9),
        attacks,
        args.output.display()
    );
    Ok(())
}
