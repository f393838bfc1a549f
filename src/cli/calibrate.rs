//! `netvigil calibrate`: set a model's alert threshold for a false-positive rate on known-good
//! traffic of the analyst's network; every front end then uses it with that model.

use std::path::{Path, PathBuf};

use clap::Args;

use super::progress::with_progress_bar;
use crate::ingest::ReadOptions;
use crate::model::DeviceChoice;
use crate::service::{self, calibration};

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Model: a bundle folder or a registry name (default: the active model).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// False-positive rate to allow on the baseline (0.001 = 0.1 %).
    #[arg(long, default_value_t = calibration::DEFAULT_FPR)]
    pub fpr: f64,
    /// Known-good traffic of this network: flow files, folders, globs or captures.
    #[arg(value_name = "BASELINE", required_unless_present = "clear")]
    pub baseline: Vec<PathBuf>,
    /// Remove the model's calibration: back to its own threshold (chosen in training).
    #[arg(long)]
    pub clear: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &CalibrateArgs, data_dir: &Path) -> anyhow::Result<()> {
    if args.clear {
        let (name, dir) = service::models::resolve(data_dir, args.model.as_deref())?;
        crate::store::Store::open(data_dir)?.clear_calibration(&name)?;
        eprintln!(
            "model {name}: calibration removed, threshold {} (its own)",
            crate::model::bundle::alert_threshold_in(&dir)
        );
        return Ok(());
    }
    let model = service::models::resolve_and_load(data_dir, args.model.as_deref(), args.device)?;
    let c = with_progress_bar(args.quiet, |task| {
        calibration::calibrate(data_dir, &model, &args.baseline, args.fpr, &ReadOptions::default(), task)
    })?;
    println!(
        "model {}: threshold {:.6} (was {:.6}) for {:.3} % false positives on {} known-good flows; \
         flagged there {:.3} % before, {:.3} % now",
        c.model_name,
        c.threshold,
        model.threshold,
        c.target_fpr * 100.0,
        c.flows,
        c.fpr_before * 100.0,
        c.fpr_after * 100.0
    );
    Ok(())
}
