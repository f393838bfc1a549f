//! `netvigil bench`: inference flows/s per backend and batch size, and training seconds per
//! epoch, on real flows.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::InputArgs;
use crate::features::N_FEATURES;
use crate::ingest::read_flows;
use crate::model::ModelBundle;
use crate::model::inference::{DeviceChoice, Scorer, gpu_adapters, select_device};
use crate::model::model::flops_per_flow;
use crate::train::training::TrainingConfig;
use crate::train::{SplitKind, fit};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model bundle directory (e.g. models/default).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_value = "1,64,256,1024,4096")]
    pub batch_sizes: Vec<usize>,
    /// Flows scored per measurement (input rows are cycled to reach it).
    #[arg(long, default_value_t = 40_000)]
    pub flows: usize,
    /// Include wgpu (the best adapter, software ones too) when one exists.
    #[arg(long)]
    pub gpu: bool,
    /// With --gpu: time wgpu only (on a GPU machine the many-core CPU rows are another question
    /// and would take most of a short lease).
    #[arg(long, requires = "gpu")]
    pub gpu_only: bool,
    /// On the CPU, time the fused path only (not burn-ndarray's graph beside it).
    #[arg(long)]
    pub fused_only: bool,
    /// Also time one training epoch of this model's configuration on the CPU.
    #[arg(long)]
    pub train: bool,
    /// The machine's f32 matmul peak in GFLOP/s, to report the model's share of it
    /// (numpy/OpenBLAS measured about 330 on the reference 2-core machine).
    #[arg(long, default_value_t = 330.0)]
    pub peak_gflops: f64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct InferenceRow {
    device: String,
    batch_size: usize,
    threads: usize,
    flows: usize,
    seconds: f64,
    flows_per_sec: f64,
    gflops_per_sec: f64,
    share_of_peak: f64,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    model: PathBuf,
    flops_per_flow: u64,
    inference: Vec<InferenceRow>,
    train_seconds_per_epoch: Option<f64>,
    train_rows: Option<usize>,
}

fn time_scoring(scorer: &Scorer, rows: &[f32], flows: usize) -> f64 {
    // One warm-up pass (allocations, GPU kernel compilation) outside the timing.
    let warm = rows.len().min(scorer.batch_size.max(1) * N_FEATURES * 2);
    let _ = scorer.score_each(&rows[..warm]);
    // The input's rows repeated to `flows` rows, scored in one call as `predict` scores a file,
    // every row through the model (`score_raw` would score the repeats once).
    let input: Vec<f32> = rows.iter().copied().cycle().take(flows * N_FEATURES).collect();
    let started = Instant::now();
    let _ = scorer.score_each(&input);
    started.elapsed().as_secs_f64()
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let table = read_flows(&args.input.inputs, &args.input.read_options())?;
    if table.is_empty() {
        anyhow::bail!("no flows to benchmark with");
    }
    let mut choices = if args.gpu_only { vec![] } else { vec![DeviceChoice::Cpu] };
    if args.gpu {
        if gpu_adapters().is_empty() {
            anyhow::bail!("--gpu: wgpu found no adapter (install a Vulkan driver, e.g. mesa-vulkan-drivers)");
        }
        choices.push(DeviceChoice::Gpu);
    }
    let mut rows = Vec::new();
    let mut flops = 0;
    for choice in choices {
        let selected = select_device(choice)?;
        let bundle = ModelBundle::load(&args.model, &selected.device)?;
        flops = flops_per_flow(&bundle.config) * bundle.members.len() as u64;
        let fused = Scorer::new(&bundle, &selected);
        let thread_options: Vec<usize> = if selected.is_gpu { vec![1] } else { vec![1, fused.threads] };
        // On the CPU both engines side by side: the fused path scoring uses, and burn's graph.
        let engines = if selected.is_gpu || args.fused_only {
            vec![fused]
        } else {
            vec![fused.clone(), fused.with_burn_engine()]
        };
        for (base, &batch_size) in engines.iter().flat_map(|e| args.batch_sizes.iter().map(move |b| (e, b))) {
            for &threads in &thread_options {
                let mut scorer = base.clone();
                scorer.batch_size = batch_size.max(1);
                scorer.threads = threads;
                // Batch size 1 is slow per flow; time fewer flows so the run stays short.
                let flows = if batch_size < 32 { args.flows.min(2_000) } else { args.flows };
                let seconds = time_scoring(&scorer, table.features(), flows);
                let fps = flows as f64 / seconds.max(1e-9);
                let gflops = fps * flops as f64 / 1e9;
                let row = InferenceRow {
                    device: if selected.is_gpu {
                        selected.description.clone()
                    } else {
                        format!("cpu, {}", base.engine())
                    },
                    batch_size,
                    threads,
                    flows,
                    seconds,
                    flows_per_sec: fps,
                    gflops_per_sec: gflops,
                    share_of_peak: gflops / args.peak_gflops,
                };
                if !args.json {
                    eprintln!(
                        "{:<52} batch {:>5} threads {:>2}: {:>10.0} flows/s  {:>6.2} GFLOP/s ({:.2} % of {} GFLOP/s)",
                        row.device,
                        batch_size,
                        threads,
                        fps,
                        gflops,
                        100.0 * row.share_of_peak,
                        args.peak_gflops
                    );
                }
                rows.push(row);
            }
        }
    }
    let (train_seconds_per_epoch, train_rows) = if args.train && table.labels().is_some() {
        let bundle = ModelBundle::load(&args.model, &select_device(DeviceChoice::Cpu)?.device)?;
        let training = TrainingConfig::new().with_epochs(1);
        let cpu = select_device(DeviceChoice::Cpu)?;
        let (_, report) = fit(
            &table,
            &bundle.config,
            &training,
            SplitKind::Random,
            &cpu.device,
            None,
            &AtomicBool::new(false),
            None,
        )?;
        if !args.json {
            eprintln!("training: {:.1} s per epoch on {} rows (CPU)", report.seconds_per_epoch, report.train_rows);
        }
        (Some(report.seconds_per_epoch), Some(report.train_rows))
    } else {
        (None, None)
    };
    let report = BenchReport {
        model: args.model.clone(),
        flops_per_flow: flops,
        inference: rows,
        train_seconds_per_epoch,
        train_rows,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("model FLOPs per flow: {flops}");
    }
    Ok(())
}
