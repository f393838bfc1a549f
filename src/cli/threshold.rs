//! `netvigil threshold`: choose a model's alert threshold again on the validation rows of its
//! own training split (`service::threshold`).

use std::path::Path;

use clap::Args;

use super::InputArgs;
use crate::train::metrics::SourceMetrics;
use crate::train::threshold::DEFAULT_MAX_FPR;

#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// The model: a bundle folder or a registry name (default: the active model).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// The files the model was trained on, in the same order (its split is rebuilt from them).
    #[command(flatten)]
    pub input: InputArgs,
    /// The largest share of any source folder's validation benign flows that may be flagged.
    #[arg(long, default_value_t = DEFAULT_MAX_FPR)]
    pub max_fpr: f64,
}

pub fn run(args: &ThresholdArgs, data_dir: &Path) -> anyhow::Result<()> {
    let (name, dir) = crate::service::models::resolve(data_dir, args.model.as_deref())?;
    let r = crate::service::threshold::rethreshold(&dir, &args.input.inputs, &args.input.read_options(), args.max_fpr)?;
    println!("model {name}: {} (was {:.4})", r.alert.describe(), r.before);
    if r.benign_median_added {
        println!("explanations of model {name} now start from the median benign training flow");
    }
    if crate::service::threshold::record(data_dir, &name, &dir)? {
        println!("the history's entry for model {name} has the new metrics");
    }
    println!("\nvalidation rows at {:.4}:\n{}", r.alert.threshold, SourceMetrics::table(&r.alert.valid));
    println!("test rows at 0.5:\n{}", SourceMetrics::table(&r.alert.test_at_half));
    println!(
        "test rows at {:.4} (written to {}):\n{}",
        r.alert.threshold,
        dir.join("metrics.json").display(),
        SourceMetrics::table(&r.by_source)
    );
    Ok(())
}
