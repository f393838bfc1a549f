//! `netvigil compare`: the MoE, classical baselines and the autoencoder on one split, one table.

use std::path::Path;
use std::sync::{Mutex, mpsc};

use clap::{Args, ValueEnum};

use super::InputArgs;
use super::train::SplitArgs;
use crate::model::MoeConfig;
use crate::model::inference::DeviceChoice;
use crate::service::{CompareRequest, Task, compare_recorded};
use crate::train::autoencoder::AnomalyConfig;
use crate::train::baselines::Baseline;
use crate::train::compare::{CompareConfig, CompareEvent, Contender};
use crate::train::training::{TrainEvent, TrainingConfig};

/// The models `--models` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    Moe,
    DecisionTree,
    RandomForest,
    GradientBoosting,
    LogisticRegression,
    Autoencoder,
}

impl ModelArg {
    fn contender(self) -> Contender {
        match self {
            ModelArg::Moe => Contender::Moe,
            ModelArg::DecisionTree => Contender::Baseline(Baseline::DecisionTree),
            ModelArg::RandomForest => Contender::Baseline(Baseline::RandomForest),
            ModelArg::GradientBoosting => Contender::Baseline(Baseline::GradientBoosting),
            ModelArg::LogisticRegression => Contender::Baseline(Baseline::LogisticRegression),
            ModelArg::Autoencoder => Contender::Autoencoder,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Which models, in table order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub models: Vec<ModelArg>,
    /// Maximum epochs of the MoE (early stopping may end sooner).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// The MoE's moving average of the weights (as `train --weight-average`; 0: the last
    /// step's weights).
    #[arg(long, value_name = "DECAY")]
    pub weight_average: Option<f64>,
    /// Epochs of the autoencoder.
    #[arg(long)]
    pub autoencoder_epochs: Option<usize>,
    /// Widths of the autoencoder's encoder layers down to the bottleneck (the decoder mirrors them).
    #[arg(long, value_delimiter = ',', value_name = "WIDTHS")]
    pub autoencoder_layers: Vec<usize>,
    /// False-positive rate the autoencoder's threshold allows on held-back benign flows.
    #[arg(long, default_value_t = 0.01)]
    pub target_fpr: f64,
    /// The classifiers' thresholds: the lowest score from 0.5 up at which no source folder
    /// flags more than this share of its validation benign flows (as `train` sets a model's).
    #[arg(long, value_name = "SHARE", default_value_t = crate::train::threshold::DEFAULT_MAX_FPR)]
    pub alert_max_fpr: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the MoE and the autoencoder train and score.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

fn config(args: &CompareArgs) -> anyhow::Result<CompareConfig> {
    let contenders =
        if args.models.is_empty() { Contender::all() } else { args.models.iter().map(|m| m.contender()).collect() };
    let mut training = TrainingConfig::new();
    if let Some(e) = args.epochs {
        training.epochs = e.max(1);
    }
    if let Some(d) = args.weight_average {
        training.weight_average = super::train::checked_weight_average(d)?;
    }
    args.split.apply(&mut training)?;
    let mut anomaly = AnomalyConfig::new().with_target_fpr(args.target_fpr).with_seed(args.seed);
    if let Some(e) = args.autoencoder_epochs {
        anomaly.epochs = e.max(1);
    }
    if !args.autoencoder_layers.is_empty() {
        if args.autoencoder_layers.contains(&0) {
            anyhow::bail!("--autoencoder-layers: every layer needs at least one unit");
        }
        anomaly.model.encoder = args.autoencoder_layers.clone();
    }
    if !(0.0..1.0).contains(&args.target_fpr) {
        anyhow::bail!("--target-fpr {} is not a rate in [0, 1)", args.target_fpr);
    }
    training.alert_max_fpr =
        crate::train::threshold::checked_max_fpr(args.alert_max_fpr, "--alert-max-fpr").map_err(anyhow::Error::msg)?;
    Ok(CompareConfig {
        split: args.split.kind()?,
        seed: args.seed,
        contenders,
        moe: MoeConfig::new(),
        training,
        anomaly,
    })
}

pub fn run(args: &CompareArgs, data_dir: &Path) -> anyhow::Result<()> {
    let request = CompareRequest {
        inputs: args.input.inputs.clone(),
        read: args.input.read_options(),
        config: config(args)?,
        device: args.device,
    };
    eprintln!("comparing on split {}, recording into {}", request.config.split.name(), data_dir.display());
    let (tx, rx) = mpsc::channel();
    let cancel = super::progress::cancel_on_ctrl_c();
    let (run_id, comparison) = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let tx = Mutex::new(tx);
            let send = |e: CompareEvent| {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send(e);
                }
            };
            compare_recorded(data_dir, &request, &Task::new(&send, cancel))
        });
        show_progress(rx);
        worker.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{}", comparison.to_text());
    }
    eprintln!("recorded as run {run_id}");
    Ok(())
}

fn show_progress(rx: mpsc::Receiver<CompareEvent>) {
    let mut total = 0;
    for event in rx {
        match event {
            CompareEvent::Started { models, train_rows, test_rows } => {
                total = models.len();
                eprintln!("{train_rows} training rows, {test_rows} test rows, {total} models");
            }
            CompareEvent::Training { index, model } => eprintln!("[{}/{total}] {model}", index + 1),
            CompareEvent::Moe(TrainEvent::Epoch(e)) => {
                eprintln!(
                    "      epoch {:>3}  loss {:.4}  valid F1 {:.4}  {:.1}s",
                    e.epoch, e.train_loss, e.valid_f1, e.seconds
                )
            }
            CompareEvent::Moe(_) => {}
            CompareEvent::Finished(row) => eprintln!(
                "      F1 {:.4}  FPR {:.4}  trained in {:.1}s, {:.0} flows/s",
                row.metrics.f1, row.metrics.false_positive_rate, row.train_seconds, row.flows_per_second
            ),
        }
    }
}
