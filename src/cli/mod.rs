//! The command line: `netvigil [FILE...]` opens the workstation, subcommands work headless.

mod bench;
mod bench_ingest;
mod calibrate;
mod carve;
mod compare;
mod convert;
mod evaluate;
mod extract;
mod finetune;
mod generate;
mod history;
mod inspect;
mod predict;
mod progress;
mod threshold;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ingest::ReadOptions;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "netvigil",
    version,
    about = "Offline detection of attacks in network flows (CICFlowMeter CSV and captures)",
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    /// Folder of the history database and result files (default: the XDG data directory,
    /// usually ~/.local/share/netvigil).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Files to open in the workstation window (CSV flow records).
    pub files: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report dialect, rows, labels, duplicates and the validation report of flow files.
    Inspect(inspect::InspectArgs),
    /// Write the normalised 72-feature table with metadata and labels to CSV or Parquet.
    Convert(convert::ConvertArgs),
    /// Time loading flow files (parse, validate, metadata) into the 72-feature table.
    BenchIngest(bench_ingest::BenchIngestArgs),
    /// Turn pcap/pcapng captures (optionally gzip-compressed) into CICFlowMeter flows.
    Extract(extract::ExtractArgs),
    /// Time frames of the window with a large file loaded, while scrolling and sorting.
    BenchGui(BenchGuiArgs),
    /// Requests/s and latency of `serve` on this machine, beside predict's flows/s.
    BenchServe(BenchServeArgs),
    /// Serve scoring over HTTP (REST, Prometheus metrics, OpenAPI), on loopback by default.
    Serve(ServeArgs),
    /// Past runs, models, scoring batches and investigations.
    History(history::HistoryArgs),
    /// Manage the model registry.
    Models(history::ModelsArgs),
    /// Train a Mixture-of-Experts detector on labelled flows and save it as a bundle.
    Train(train::TrainArgs),
    /// Adapt a trained model to labelled flows of this network (a new model, parent recorded).
    Finetune(finetune::FinetuneArgs),
    /// Score flow files: P(attack), family, family probabilities and gate weights per flow.
    Predict(predict::PredictArgs),
    /// Set a model's alert threshold for a false-positive rate on known-good traffic.
    Calibrate(calibrate::CalibrateArgs),
    /// Choose a model's own alert threshold again on the validation rows of its training split.
    Threshold(threshold::ThresholdArgs),
    /// Detection metrics of a model on labelled flows.
    Evaluate(evaluate::EvaluateArgs),
    /// Train the MoE, classical baselines and an autoencoder on one split; one table of metrics.
    Compare(compare::CompareArgs),
    /// Inference flows/s per backend and batch size, and training seconds per epoch.
    Bench(bench::BenchArgs),
    /// Write the packets of chosen flows of a capture to a new pcap (for Wireshark).
    Carve(carve::CarveArgs),
    /// Print the shell completion script (e.g. `netvigil completions bash > ~/.local/share/bash-completion/completions/netvigil`).
    Completions(generate::CompletionsArgs),
    /// Write the man pages into a folder (used by packaging/build.sh).
    #[command(hide = true)]
    Manpages(generate::ManpagesArgs),
}

/// `netvigil bench-gui` (run by the window's own code: see `app::bench`).
#[derive(Debug, Args)]
pub struct BenchGuiArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Frames to time.
    #[arg(long, default_value_t = 600)]
    pub frames: usize,
    /// Model bundle scoring the flows first (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// `netvigil serve` (run by `serve`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model bundle folder or registry name (default: the active model, else the shipped one).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Address and port to listen on. Anything but loopback needs --token-file.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8750")]
    pub bind: std::net::SocketAddr,
    /// File holding the bearer token clients must send (Authorization: Bearer TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest request body in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub max_body_mib: usize,
    /// Requests scored at once; more wait their turn.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds a request may take before it is answered with 408.
    #[arg(long, default_value_t = 60)]
    pub timeout_s: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::model::DeviceChoice,
}

/// `netvigil bench-serve` (run by `serve::bench`).
#[derive(Debug, Args)]
pub struct BenchServeArgs {
    /// Flows to send (the first ones, cycled to fill a request).
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Client threads, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<usize>,
    /// Flows per request, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    pub flows: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    #[arg(long)]
    pub json: bool,
}

/// Options shared by every command that reads flow files.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Flow files, folders or glob patterns (e.g. 'data/*.csv').
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// Drop rows with text in a numeric column or an unknown label (counted in the report)
    /// instead of stopping at the first.
    #[arg(long)]
    pub lenient: bool,
    /// Read the Label column as no labels: files whose labels are no attack labels NetVigil
    /// knows (CIC-Darknet2020's Tor/VPN classes, say) are then scored without them.
    #[arg(long)]
    pub ignore_labels: bool,
}

impl InputArgs {
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions { lenient: self.lenient, ignore_labels: self.ignore_labels, ..ReadOptions::default() }
    }
}

/// The data directory: `--data-dir` or the user's default.
pub fn data_dir(arg: Option<&PathBuf>) -> PathBuf {
    arg.cloned().unwrap_or_else(crate::store::default_data_dir)
}

/// Runs a parsed subcommand.
pub fn run(command: Command, data_dir: PathBuf) -> anyhow::Result<()> {
    match command {
        Command::History(args) => history::run_history(&Store::open(&data_dir)?, &args),
        Command::Models(args) => history::run_models(&data_dir, &args),
        Command::Inspect(args) => inspect::run(&args, &data_dir),
        Command::Convert(args) => convert::run(&args),
        Command::BenchIngest(args) => bench_ingest::run(&args),
        Command::Extract(args) => extract::run(&args),
        // The window and the server are front ends of their own: the binary starts them.
        Command::BenchGui(_) | Command::Serve(_) | Command::BenchServe(_) => {
            anyhow::bail!("bench-gui and serve are started by the netvigil binary")
        }
        Command::Train(args) => train::run(&args, &data_dir),
        Command::Finetune(args) => finetune::run(&args, &data_dir),
        Command::Predict(args) => predict::run(&args, &data_dir),
        Command::Evaluate(args) => evaluate::run(&args, &data_dir),
        Command::Calibrate(args) => calibrate::run(&args, &data_dir),
        Command::Threshold(args) => threshold::run(&args, &data_dir),
        Command::Compare(args) => compare::run(&args, &data_dir),
        Command::Bench(args) => bench::run(&args),
        Command::Carve(args) => carve::run(&args),
        Command::Completions(args) => generate::completions(&args),
        Command::Manpages(args) => generate::manpages(&args),
    }
}
