//! `netvigil extract`: captures → CICFlowMeter flows (CSV or Parquet), with a progress bar,
//! the packet rate, and each capture's report of what was skipped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ingest::capture::{self, CaptureReport, Compat, ExtractOptions};
use crate::ingest::{FlowTable, export};

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Capture files: pcap or pcapng, optionally gzip-compressed.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Output file: .csv or .parquet.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Which CICFlowMeter to reproduce: the corrected one (default; the training data) or the
    /// original 2017 tool (for models trained on the 2017 release).
    #[arg(long, value_enum, default_value_t = Compat::Corrected)]
    pub compat: Compat,
    /// Flow timeout in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub flow_timeout: f64,
    /// Activity timeout in seconds (a longer gap ends an active period).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub activity_timeout: f64,
    /// Output flows with at least this many packets. Default: 1 (every flow, single-packet
    /// scan probes included) in the corrected mode; 2 in the compat modes, as the official
    /// CICFlowMeters (what that leaves out is reported).
    #[arg(long, value_name = "N")]
    pub min_packets: Option<u64>,
    /// Count the bytes a wire pads short Ethernet frames with as payload, as the 2017 tool did
    /// on the CICIDS2017 testbed (with `--compat cicids2017`, for captures made on loopback or
    /// veth, whose frames are not padded).
    #[arg(long)]
    pub ethernet_padding: bool,
    /// Label every flow (a family name, `BENIGN` or `attack`): for captures whose nature is
    /// known, to train or evaluate on them. Written as the `Label` and `Family` columns.
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
    /// Also write the capture reports (JSON) to this file.
    #[arg(long, value_name = "JSON")]
    pub report: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ExtractArgs {
    pub fn options(&self) -> anyhow::Result<ExtractOptions> {
        let secs = |s: f64, name: &str| -> anyhow::Result<i64> {
            anyhow::ensure!(s.is_finite() && s > 0.0 && s < 1e9, "--{name} must be a positive number of seconds");
            Ok((s * 1e6).round() as i64)
        };
        Ok(ExtractOptions {
            flow_timeout_us: secs(self.flow_timeout, "flow-timeout")?,
            activity_timeout_us: secs(self.activity_timeout, "activity-timeout")?,
            min_packets: self.min_packets.unwrap_or_else(|| ExtractOptions::default_min_packets(self.compat)).max(1),
            ethernet_padding: self.ethernet_padding,
            ..ExtractOptions::for_compat(self.compat)
        })
    }
}

pub fn run(args: &ExtractArgs) -> anyhow::Result<()> {
    export::OutputFormat::from_path(&args.output)?;
    let opts = args.options()?;
    let mut table = FlowTable::default();
    let mut reports: Vec<(PathBuf, CaptureReport)> = Vec::new();
    let started = Instant::now();
    let mut total_packets = 0u64;
    let mut extracting = Duration::ZERO;
    for path in &args.captures {
        let (part, report, took) = extract_one(path, &opts, args.quiet)?;
        extracting += took;
        total_packets += report.packets;
        eprint!("{}: {report}", path.display());
        table.append(part);
        reports.push((path.clone(), report));
    }
    if let Some(label) = &args.label {
        table.label_all(label).with_context(|| {
            format!("--label '{label}' is not a label NetVigil knows (a family name, BENIGN or attack)")
        })?;
    }
    export::write_table(&table, &args.output)?;
    if let Some(path) = &args.report {
        write_reports(path, &reports)?;
    }
    let ex = extracting.as_secs_f64().max(1e-9);
    eprintln!(
        "wrote {} flows to {} ({} packets; extraction {:.3} s, {:.0} packets/s; with output {:.3} s)",
        table.len(),
        args.output.display(),
        total_packets,
        ex,
        total_packets as f64 / ex,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// One capture: its table, report and extraction time (reading to finished flows).
fn extract_one(
    path: &std::path::Path,
    opts: &ExtractOptions,
    quiet: bool,
) -> anyhow::Result<(FlowTable, CaptureReport, Duration)> {
    let size = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?.len();
    let bar = if quiet { ProgressBar::hidden() } else { progress_bar(path, size) };
    let started = Instant::now();
    let mut on_packets = |bytes: u64, packets: u64| {
        bar.set_position(bytes.min(size));
        let rate = packets as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{packets} packets, {rate:.0} packets/s"));
        capture::Proceed::Continue(())
    };
    let (table, report) = capture::extract_table(path, opts, &mut on_packets, None)?;
    let took = started.elapsed();
    bar.finish_and_clear();
    Ok((table, report, took))
}

fn progress_bar(path: &std::path::Path, size: u64) -> ProgressBar {
    let bar = ProgressBar::new(size);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn write_reports(path: &std::path::Path, reports: &[(PathBuf, CaptureReport)]) -> anyhow::Result<()> {
    let value: Vec<serde_json::Value> =
        reports.iter().map(|(p, r)| serde_json::json!({ "capture": p.display().to_string(), "report": r })).collect();
    let text = serde_json::to_string_pretty(&value)?;
    export::write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()))?;
    Ok(())
}
