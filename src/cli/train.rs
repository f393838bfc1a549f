//! `netvigil train`: train a detector on labelled flows and save it as a bundle.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::InputArgs;
use crate::ingest::label::AttackFamily;
use crate::model::inference::DeviceChoice;
use crate::model::{ExpertSet, MoeConfig};
use crate::service::{Task, TrainRequest, train_recorded};
use crate::train::SplitKind;
use crate::train::metrics::SourceMetrics;
use crate::train::threshold::checked_max_fpr;
use crate::train::training::{TrainEvent, TrainingConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Stratified random 70/15/15.
    Random,
    /// Train Monday–Wednesday, test Thursday–Friday.
    Time,
    /// Leave the `--holdout` family out of training.
    Family,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpertsArg {
    Moe,
    Tabular,
    Temporal,
}

/// How the test rows are chosen (shared by `train` and `compare`).
#[derive(Debug, Clone, Args)]
pub struct SplitArgs {
    /// How to choose the test rows.
    #[arg(long, value_enum, default_value = "random")]
    pub split: SplitArg,
    /// The attack family kept out of training with `--split family`.
    #[arg(long, value_name = "FAMILY", required_if_eq("split", "family"))]
    pub holdout: Option<String>,
    /// A file or data folder (a name, or last path components such as
    /// `unb-live/2017-12-15_online.csv`) whose rows are all test rows: a day, network or
    /// capture run never seen in training. Repeatable.
    #[arg(long = "test-file", value_name = "FILE")]
    pub test_files: Vec<String>,
    /// Features or feature groups the models do not see (init-window, header-length,
    /// active-idle, rates, flags, subflow, or a feature name). Repeatable.
    #[arg(long = "mask-features", value_name = "NAME")]
    pub mask_features: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Maximum epochs (early stopping on validation F1 may end sooner).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Draw the train/validation/test split with this seed instead of `--seed` (model seeds
    /// that share one split).
    #[arg(long, value_name = "N")]
    pub split_seed: Option<u64>,
    /// Train N models on the same split (seeds --seed, --seed + 1, ...) and ship them as one
    /// ensemble, scored by the mean of their logits: steadier than one seed (README
    /// "An ensemble of seeds"), N times the training and the scoring time.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub members: u64,
    /// Extra loss weight of benign flows (fewer false alarms, at some cost in recall).
    #[arg(long)]
    pub benign_weight: Option<f64>,
    /// How far each data folder gets an equal share of its family's loss weight (0 to 1).
    #[arg(long)]
    pub source_balance: Option<f64>,
    /// The alert threshold is the lowest P(attack) from 0.5 up at which no source folder flags
    /// more than this share of its validation benign flows (default 0.005).
    #[arg(long, value_name = "SHARE")]
    pub alert_max_fpr: Option<f64>,
    /// Validate and keep a moving average of the weights with this decay per step (0: the last
    /// step's weights; default 0.998).
    #[arg(long, value_name = "DECAY")]
    pub weight_average: Option<f64>,
    /// Which experts: the mixture, or one alone (ablation).
    #[arg(long, value_enum, default_value = "moe")]
    pub experts: ExpertsArg,
    /// Model sizes as JSON (a `config.json` of a bundle); defaults otherwise.
    #[arg(long, value_name = "JSON")]
    pub config: Option<PathBuf>,
    /// Token width of the FT-Transformer (overrides --config).
    #[arg(long)]
    pub d_token: Option<usize>,
    /// Transformer blocks (overrides --config).
    #[arg(long)]
    pub blocks: Option<usize>,
    /// Frequencies of the periodic feature embedding (0: linear tokens only; overrides --config).
    #[arg(long)]
    pub periodic: Option<usize>,
    #[command(flatten)]
    pub out: BundleOutArgs,
}

/// Where a trained (or fine-tuned) model goes, shared by `train` and `finetune`.
#[derive(Debug, Clone, Args)]
pub struct BundleOutArgs {
    /// Where training runs.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Output bundle directory, e.g. models/NAME.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Name of the model in the registry (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl BundleOutArgs {
    /// The registry name: `--name`, else the output folder's name, else `fallback`.
    pub fn name_or(&self, fallback: &str) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.output.file_name().map_or_else(|| fallback.to_string(), |n| n.to_string_lossy().into_owned())
        })
    }
}

impl SplitArgs {
    pub fn kind(&self) -> anyhow::Result<SplitKind> {
        split_kind(self)
    }

    /// Puts the held-out files and masked features into a training configuration.
    pub fn apply(&self, training: &mut TrainingConfig) -> anyhow::Result<()> {
        crate::features::resolve_features(&self.mask_features).map_err(|e| anyhow::anyhow!("--mask-features: {e}"))?;
        training.test_files = self.test_files.clone();
        training.masked_features = self.mask_features.clone();
        Ok(())
    }
}

fn split_kind(args: &SplitArgs) -> anyhow::Result<SplitKind> {
    Ok(match args.split {
        SplitArg::Random => SplitKind::Random,
        SplitArg::Time => SplitKind::Time,
        SplitArg::Family => {
            let name = args.holdout.as_deref().unwrap_or_default();
            let family = AttackFamily::from_name(name).filter(|f| f.is_attack()).with_context(|| {
                let names: Vec<&str> = AttackFamily::CLASSES[1..].iter().map(|f| f.name()).collect();
                format!("--holdout '{name}' is not an attack family; one of {}", names.join(", "))
            })?;
            SplitKind::Family(family)
        }
    })
}

pub fn model_config(args: &TrainArgs) -> anyhow::Result<MoeConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<MoeConfig>(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => MoeConfig::new(),
    };
    if let Some(d) = args.d_token {
        config.tabular.d_token = d;
    }
    if let Some(b) = args.blocks {
        config.tabular.n_blocks = b;
    }
    if let Some(k) = args.periodic {
        config.tabular.periodic_frequencies = (k > 0).then_some(k);
    }
    config.experts = match args.experts {
        ExpertsArg::Moe => ExpertSet::Both,
        ExpertsArg::Tabular => ExpertSet::TabularOnly,
        ExpertsArg::Temporal => ExpertSet::TemporalOnly,
    };
    config.validate().map_err(|e| anyhow::anyhow!("invalid model configuration: {e}"))?;
    Ok(config)
}

pub fn run(args: &TrainArgs, data_dir: &Path) -> anyhow::Result<()> {
    let split = args.split.kind()?;
    let model = model_config(args)?;
    let mut training = TrainingConfig::new();
    if let Some(e) = args.epochs {
        training.epochs = e.max(1);
    }
    if let Some(s) = args.seed {
        training.seed = s;
    }
    training.split_seed = args.split_seed;
    training.members = args.members as usize;
    args.split.apply(&mut training)?;
    if let Some(w) = args.benign_weight {
        if !(w.is_finite() && w > 0.0) {
            anyhow::bail!("--benign-weight {w} must be a positive number");
        }
        training.benign_weight = w;
    }
    if let Some(b) = args.source_balance {
        if !(0.0..=1.0).contains(&b) {
            anyhow::bail!("--source-balance {b} must be between 0 and 1");
        }
        training.source_balance = b;
    }
    if let Some(f) = args.alert_max_fpr {
        training.alert_max_fpr = checked_max_fpr(f, "--alert-max-fpr").map_err(anyhow::Error::msg)?;
    }
    if let Some(d) = args.weight_average {
        training.weight_average = checked_weight_average(d)?;
    }
    let name = args.out.name_or("model");
    let request = TrainRequest {
        inputs: args.input.inputs.clone(),
        read: args.input.read_options(),
        split,
        model,
        training: training.clone(),
        device: args.out.device,
        bundle_dir: args.out.output.clone(),
        name,
        kind: "train".into(),
        start_from: None,
    };
    execute(&request, args.out.json, data_dir)
}

/// `--weight-average`'s decay when it is one (0 for off, else below 1).
pub(super) fn checked_weight_average(decay: f64) -> anyhow::Result<f64> {
    anyhow::ensure!((0.0..1.0).contains(&decay), "--weight-average {decay} must be at least 0 and below 1");
    Ok(decay)
}

/// Runs a training or fine-tuning request with the progress bar; prints the report.
pub(super) fn execute(request: &TrainRequest, json: bool, data_dir: &Path) -> anyhow::Result<()> {
    let training = &request.training;
    eprintln!("{}, split {}, recording into {}", request.kind, request.split.name(), data_dir.display());
    let (tx, rx) = mpsc::channel();
    let cancel = super::progress::cancel_on_ctrl_c();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let tx = Mutex::new(tx);
            let send = |e: TrainEvent| {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send(e);
                }
            };
            train_recorded(data_dir, request, &Task::new(&send, cancel))
        });
        show_progress(rx, training.epochs);
        worker.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })?;
    let report = &result.report;
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!(
            "split {}: {} train / {} validation / {} test rows ({} duplicates removed)\nbest epoch {} of {} ({:.1} s, {:.1} s/epoch)\n\ntest set:\n{}",
            report.split,
            report.train_rows,
            report.valid_rows,
            report.test_rows,
            report.duplicates_removed,
            report.best_epoch,
            report.epochs_run,
            report.train_seconds,
            report.seconds_per_epoch,
            report.test.to_text()
        );
        if !report.members.is_empty() {
            let each: Vec<String> = report
                .members
                .iter()
                .map(|m| {
                    format!(
                        "seed {}: best epoch {} of {}, validation F1 {:.4}",
                        m.seed, m.best_epoch, m.epochs_run, m.valid_f1
                    )
                })
                .collect();
            println!(
                "an ensemble of {} models (the mean of their logits; the epochs above are the first's):
  {}",
                each.len(),
                each.join("\n  ")
            );
        }
        if let Some(alert) = &report.alert {
            println!("{}; the test set above is at it", alert.describe());
        }
        if let Some(before) = &report.before {
            println!("the starting model on the same test rows:\n{}", before.to_text());
        }
        if report.by_source.len() > 1 || !report.test_files.is_empty() {
            println!("test set by source:\n{}", SourceMetrics::table(&report.by_source));
        }
    }
    eprintln!("saved {} as model '{}' (run {})", request.bundle_dir.display(), result.name, result.run_id);
    Ok(())
}

/// Draws the progress bar until the training thread drops its sender.
fn show_progress(rx: mpsc::Receiver<TrainEvent>, max_epochs: usize) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    for event in rx {
        match event {
            TrainEvent::Member { index, of, seed } => {
                bar.println(format!("member {} of {of} (seed {seed})", index + 1))
            }
            TrainEvent::Started { steps_per_epoch, .. } => {
                bar.set_length(steps_per_epoch as u64);
                bar.set_prefix(format!("epoch 1/{max_epochs}"));
            }
            TrainEvent::Step { epoch, step, loss } => {
                bar.set_prefix(format!("epoch {epoch}/{max_epochs}"));
                bar.set_position(step as u64);
                bar.set_message(format!("loss {loss:.4}"));
            }
            TrainEvent::Epoch(e) => {
                let gate: Vec<String> = e.valid_mean_gate.iter().map(|g| format!("{g:.2}")).collect();
                bar.println(format!(
                    "epoch {:>3}  loss {:.4}  valid F1 {:.4}  family acc {:.4}  gate {}  {:.1}s",
                    e.epoch,
                    e.train_loss,
                    e.valid_f1,
                    e.valid_family_accuracy,
                    gate.join("/"),
                    e.seconds
                ));
            }
            TrainEvent::Finished { best_epoch, epochs_run, cancelled } => {
                bar.finish_and_clear();
                eprintln!(
                    "finished after {epochs_run} epochs, best {best_epoch}{}",
                    if cancelled { " (cancelled)" } else { "" }
                );
            }
        }
    }
    bar.finish_and_clear();
}
