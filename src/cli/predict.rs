//! `netvigil predict`: score flow files with a model bundle.

use std::path::{Path, PathBuf};

use clap::Args;

use super::InputArgs;
use crate::ingest::export::{OutputFormat, metadata_frame, write_frame};
use crate::ingest::read_flows;
use crate::model::inference::{DeviceChoice, Scorer};
use crate::detect::detect;
use crate::model::output::{verdict_frame, with_findings};
use crate::store::Store;
use crate::store::batches::summarise;

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

pub fn run(args: &PredictArgs, data_dir: &Path) -> anyhow::Result<()> {
    OutputFormat::from_path(&args.output)?;
    let (scorer, bundle, selected) = Scorer::load(&args.model, args.device)?;
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    eprintln!("model {}: {}", args.model.display(), bundle.manifest.semantics_note(&table.semantics()));
    let mut store = Store::open(data_dir)?;
    let input = table.sources.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>().join("\n");
    let model_name = args.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The batch is `running` in the history while scoring: a crash leaves it `interrupted`.
    let batch = store.start_batch(&input, &model_name)?;
    let started = std::time::Instant::now();
    let verdicts = scorer.score_table(&table);
    let seconds = started.elapsed().as_secs_f64();
    let findings = detect(&table);
    let mut df = with_findings(verdict_frame(metadata_frame(&table)?, &verdicts)?, &findings)?;
    write_frame(&mut df, &args.output)?;
    let results = store.save_results(&mut df)?;
    store.finish_batch(batch, &summarise(&verdicts, Some(results), seconds))?;
    let attacks = verdicts.iter().filter(|v| v.is_attack()).count();
    let unfamiliar = verdicts.iter().filter(|v| v.unfamiliar).count();
    eprintln!(
        "scored {} flows on {} in {:.2} s ({:.0} flows/s): {} flagged as attacks, {} unfamiliar; wrote {}",
        verdicts.len(),
        selected.description,
        seconds,
        verdicts.len() as f64 / seconds.max(1e-9),
        attacks,
        unfamiliar,
        args.output.display()
    );
    eprintln!("{}", findings.headline());
    for f in &findings.findings {
        eprintln!("  {f}");
    }
    Ok(())
}
