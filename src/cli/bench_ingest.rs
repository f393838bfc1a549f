//! `netvigil bench-ingest`: how fast flow files load into a `FlowTable` (parse, validate,
//! metadata), the figure README compares with pandas.read_csv.

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::InputArgs;
use crate::ingest::{expand_inputs, read_flows};

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Timed repetitions (the file should be in the page cache; the first run warms it).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct IngestBench {
    rows: usize,
    bytes: u64,
    runs_s: Vec<f64>,
    best_s: f64,
    median_s: f64,
    rows_per_s: f64,
    mb_per_s: f64,
}

pub fn run(args: &BenchIngestArgs) -> anyhow::Result<()> {
    let files = expand_inputs(&args.input.inputs)?;
    let bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let opts = args.input.read_options();
    let mut runs_s = Vec::new();
    let mut rows = 0;
    for _ in 0..args.runs.max(1) {
        let start = Instant::now();
        let table = read_flows(&files, &opts)?;
        runs_s.push(start.elapsed().as_secs_f64());
        rows = table.len();
    }
    let mut sorted = runs_s.clone();
    sorted.sort_by(f64::total_cmp);
    let (best_s, median_s) = (sorted[0], sorted[sorted.len() / 2]);
    let result = IngestBench {
        rows,
        bytes,
        best_s,
        median_s,
        rows_per_s: rows as f64 / median_s,
        mb_per_s: bytes as f64 / 1e6 / median_s,
        runs_s,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} rows, {:.0} MB: median {:.3} s, best {:.3} s ({:.0} rows/s, {:.0} MB/s)",
            result.rows,
            bytes as f64 / 1e6,
            median_s,
            best_s,
            result.rows_per_s,
            result.mb_per_s
        );
    }
    Ok(())
}
