//! The command line: `netvigil [FILE...]` opens the workstation, subcommands work headless.

mod bench;
mod bench_gui;
mod bench_ingest;
mod compare;
mod convert;
mod extract;
mod evaluate;
mod history;
mod inspect;
mod predict;
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
    BenchGui(bench_gui::BenchGuiArgs),
    /// Past runs, models, scoring batches and investigations.
    History(history::HistoryArgs),
    /// Manage the model registry.
    Models(history::ModelsArgs),
    /// Train a Mixture-of-Experts detector on labelled flows and save it as a bundle.
    Train(train::TrainArgs),
    /// Score flow files: P(attack), family, family probabilities and gate weights per flow.
    Predict(predict::PredictArgs),
    /// Detection metrics of a model on labelled flows.
    Evaluate(evaluate::EvaluateArgs),
    /// Train the MoE, classical baselines and an autoencoder on one split; one table of metrics.
    Compare(compare::CompareArgs),
    /// Inference flows/s per backend and batch size, and training seconds per epoch.
    Bench(bench::BenchArgs),
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
}

impl InputArgs {
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions { lenient: self.lenient, ..ReadOptions::default() }
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
        Command::Models(args) => history::run_models(&mut Store::open(&data_dir)?, &args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::BenchIngest(args) => bench_ingest::run(&args),
        Command::Extract(args) => extract::run(&args),
        Command::BenchGui(args) => bench_gui::run(&args),
        Command::Train(args) => train::run(&args, &data_dir),
        Command::Predict(args) => predict::run(&args, &data_dir),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Compare(args) => compare::run(&args, &data_dir),
        Command::Bench(args) => bench::run(&args),
    }
}
