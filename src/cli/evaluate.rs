//! `netvigil evaluate`: detection metrics of a model bundle on labelled flows.

use std::path::Path;

use anyhow::Context;
use clap::Args;

use super::InputArgs;
use crate::ingest::label::AttackFamily;
use crate::ingest::read_flows;
use crate::model::inference::DeviceChoice;
use crate::train::Metrics;
use crate::train::metrics::SourceMetrics;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model: a bundle folder (e.g. models/default) or a registry name; its calibration, if
    /// it has one, sets the threshold (see `calibrate`).
    #[arg(long, value_name = "M")]
    pub model: String,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// Treat every flow as this label (a family name, `benign`, or `attack`): for captures
    /// and unlabelled files whose nature is known, e.g. a capture of one attack tool.
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
}

pub fn run(args: &EvaluateArgs, data_dir: &Path) -> anyhow::Result<()> {
    let model = crate::service::models::resolve_and_load(data_dir, Some(&args.model), args.device)?;
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    let truth = match &args.label {
        Some(label) => {
            let family = AttackFamily::from_label(label)
                .with_context(|| format!("--label '{label}' is not a label NetVigil knows (a family name, benign or attack)"))?;
            vec![family; table.len()]
        }
        None => table.families().context(
            "evaluate needs labelled flows: these files have no Label column (use `predict`, or `--label` when the nature of the traffic is known)",
        )?,
    };
    let verdicts = model.scorer.score_table(&table);
    let metrics = Metrics::compute(&verdicts, &truth);
    let unfamiliar: Vec<bool> = verdicts.iter().map(|v| v.unfamiliar).collect();
    let rows: Vec<usize> = (0..table.len()).collect();
    let flagged: Vec<bool> = verdicts.iter().map(|v| v.is_attack()).collect();
    let by_source = SourceMetrics::by_source(&table, &rows, &flagged, &truth, &unfamiliar);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "metrics": metrics, "by_source": by_source, "threshold": model.threshold })
            )?
        );
    } else {
        eprintln!("{} flows scored on {}, threshold {:.4}", verdicts.len(), model.backend, model.threshold);
        eprintln!("model {}: {}", args.model, model.manifest.semantics_note(&table.semantics()));
        print!("{}", metrics.to_text());
        println!("\nby source:\n{}", SourceMetrics::table(&by_source));
    }
    Ok(())
}
