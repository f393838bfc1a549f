//! `netvigil finetune`: adapt a trained model to the analyst's labelled flows in a few epochs,
//! starting from its weights and keeping its preprocessing; the result is a new model in the
//! registry, with its parent recorded.

use std::path::Path;

use clap::Args;

use super::InputArgs;
use super::train::{BundleOutArgs, SplitArgs, execute};
use crate::model::MoeConfig;
use crate::service::TrainRequest;
use crate::train::training::TrainingConfig;

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// The model to start from: a bundle folder or a registry name (default: the active model).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Labelled flows of this network (CSV, or captures with `extract --label` first).
    #[command(flatten)]
    pub input: InputArgs,
    /// How the held-back rows (before/after metrics) are chosen.
    #[command(flatten)]
    pub split: SplitArgs,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Half of training's by default (measured: a tenth of it barely moved a model off its
    /// training release; README, fine-tuning).
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Validate and keep a moving average of the weights with this decay per step (0: off;
    /// default: training's).
    #[arg(long, value_name = "DECAY")]
    pub weight_average: Option<f64>,
    #[command(flatten)]
    pub out: BundleOutArgs,
}

pub fn run(args: &FinetuneArgs, data_dir: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.learning_rate.is_finite() && args.learning_rate > 0.0,
        "--learning-rate must be a positive number"
    );
    let (parent, dir) = crate::service::models::resolve(data_dir, args.model.as_deref())?;
    let mut training = TrainingConfig::new().with_epochs(args.epochs.max(1));
    training.learning_rate = args.learning_rate;
    if let Some(d) = args.weight_average {
        training.weight_average = super::train::checked_weight_average(d)?;
    }
    args.split.apply(&mut training)?;
    let name = args.out.name_or(&format!("{parent}-finetuned"));
    eprintln!("fine-tuning {parent} ({})", dir.display());
    let request = TrainRequest {
        inputs: args.input.inputs.clone(),
        read: args.input.read_options(),
        split: args.split.kind()?,
        model: MoeConfig::new(),
        training,
        device: args.out.device,
        bundle_dir: args.out.output.clone(),
        name,
        kind: "finetune".into(),
        start_from: Some(dir),
    };
    execute(&request, args.out.json, data_dir)
}
