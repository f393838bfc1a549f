//! `netvigil inspect`: what is in a set of flow files, what ingest had to repair, and the
//! host-level findings (scans, floods, brute force) across all of them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::InputArgs;
use crate::detect::{Findings, detect};
use crate::ingest::capture::{self, CaptureReport};
use crate::ingest::{FlowTable, ReadOptions, ValidationReport, expand_inputs, read_file};
use crate::model::drift::{DriftReport, PSI_MAJOR, PSI_MODERATE, drift};

/// Findings printed in text mode; `--json` lists all.
const TEXT_FINDINGS: usize = 50;
/// Features listed by PSI in text mode; `--json` lists all.
const TEXT_DRIFT: usize = 20;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Model whose training data `--drift` compares with: a bundle folder or registry name
    /// (default: the active model).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// The population stability index of every feature against the model's training data.
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Serialize)]
struct FileSummary {
    path: PathBuf,
    dialect: String,
    rows: usize,
    labelled: bool,
    labels: BTreeMap<String, u64>,
    families: BTreeMap<String, u64>,
    duplicate_rows: usize,
    report: ValidationReport,
    /// For a capture: packets, flows by packet count, what was skipped or left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<CaptureReport>,
}

#[derive(Debug, Serialize)]
struct InspectSummary {
    files: Vec<FileSummary>,
    rows: usize,
    labels: BTreeMap<String, u64>,
    families: BTreeMap<String, u64>,
    /// Duplicates across all files together.
    duplicate_rows: usize,
    report: ValidationReport,
    /// Over all files together (row indices count from the first file's first flow).
    findings: Findings,
    /// Against the model's training data, with `--drift`.
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<DriftReport>,
}

/// One file's table, with its capture report when it is a capture.
fn read_one(path: &std::path::Path, opts: &ReadOptions) -> anyhow::Result<(FlowTable, Option<CaptureReport>)> {
    if capture::is_capture(path) {
        let (table, report) = capture::read_capture(path, &opts.capture)?;
        return Ok((table, Some(report)));
    }
    Ok((read_file(path, opts)?, None))
}

fn family_names(t: &FlowTable) -> BTreeMap<String, u64> {
    t.family_counts().into_iter().map(|(f, n)| (f.name().to_string(), n)).collect()
}

/// The summary, and every file's flows in one table.
fn summarise(inputs: &InputArgs) -> anyhow::Result<(InspectSummary, FlowTable)> {
    let opts = inputs.read_options();
    let mut all = FlowTable::default();
    let mut files = Vec::new();
    for path in expand_inputs(&inputs.inputs)? {
        let (table, capture) = read_one(&path, &opts)?;
        let source = &table.sources[0];
        let mut report = source.report.clone();
        report.duplicate_rows = table.duplicate_count() as u64;
        files.push(FileSummary {
            path: path.clone(),
            dialect: source.dialect.to_string(),
            rows: table.len(),
            labelled: table.labels().is_some(),
            labels: table.label_counts(),
            families: family_names(&table),
            duplicate_rows: report.duplicate_rows as usize,
            report,
            capture,
        });
        all.append(table);
    }
    let mut report = ValidationReport::default();
    for f in &files {
        report.merge(&f.report);
    }
    let duplicate_rows = all.duplicate_count();
    report.duplicate_rows = duplicate_rows as u64;
    let summary = InspectSummary {
        findings: detect(&all),
        drift: None,
        rows: all.len(),
        labels: all.label_counts(),
        families: family_names(&all),
        duplicate_rows,
        report,
        files,
    };
    Ok((summary, all))
}

pub fn run(args: &InspectArgs, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let (mut summary, all) = summarise(&args.input)?;
    if args.drift {
        let model =
            crate::service::models::resolve_and_load(data_dir, args.model.as_deref(), crate::model::DeviceChoice::Cpu)?;
        summary.drift = Some(drift(&model.preprocessor, all.features()).ok_or_else(|| {
            anyhow::anyhow!(
                "model {} keeps no training quantiles (a bundle older than them), or no flows were read",
                model.name
            )
        })?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

fn print_text(s: &InspectSummary) {
    for f in &s.files {
        println!("{}", f.path.display());
        println!("  dialect     {}", f.dialect);
        println!("  rows        {}", f.rows);
        println!("  duplicates  {}", f.duplicate_rows);
        if !f.labelled {
            println!("  labels      none");
        }
        if let Some(c) = &f.capture {
            for line in c.to_string().lines() {
                println!("  capture     {}", line.trim_start());
            }
        }
        // A capture's warnings repeat its report, printed just above.
        print_report("  ", &f.report, f.capture.is_none());
    }
    if s.files.len() > 1 {
        println!("total: {} files", s.files.len());
    }
    println!("rows        {}", s.rows);
    println!("duplicates  {} (exact repeats of features and label)", s.duplicate_rows);
    if !s.labels.is_empty() {
        println!("labels:");
        for (label, n) in &s.labels {
            println!("  {label:<32} {n:>9}");
        }
        println!("families:");
        for (family, n) in &s.families {
            println!("  {family:<32} {n:>9}");
        }
    }
    print_findings(&s.findings);
    if let Some(d) = &s.drift {
        print_drift(d);
    }
}

fn print_drift(d: &DriftReport) {
    println!("drift       {}", d.headline());
    let mut all = d.drifted(0.0);
    let shown = all.len().min(TEXT_DRIFT);
    for f in all.drain(..shown) {
        let mark = if f.psi >= PSI_MAJOR {
            "major"
        } else if f.psi >= PSI_MODERATE {
            "moderate"
        } else {
            ""
        };
        println!("  {:<30} PSI {:>8.3}  {mark}", f.name, f.psi);
    }
    if !all.is_empty() {
        println!(
            "  ... {} more features, all below PSI {:.3} (--json lists all, with their bins)",
            all.len(),
            all[0].psi
        );
    }
}

fn print_findings(findings: &Findings) {
    println!("findings    {}", findings.headline());
    for note in &findings.notes {
        println!("  note: {note}");
    }
    for f in findings.findings.iter().take(TEXT_FINDINGS) {
        println!("  {f}");
        println!("    rule: {}", f.rule);
    }
    if findings.findings.len() > TEXT_FINDINGS {
        println!("  ... {} more (--json lists all)", findings.findings.len() - TEXT_FINDINGS);
    }
}

fn print_report(indent: &str, r: &ValidationReport, warnings: bool) {
    for (col, c) in &r.columns {
        println!(
            "{indent}repaired    {col}: nan {} infinite {} empty {} sentinel -1 {} negative {}",
            c.nan, c.infinite, c.empty, c.sentinel, c.negative
        );
    }
    if !r.imputed_columns.is_empty() {
        println!("{indent}imputed 0   {}", r.imputed_columns.join(", "));
    }
    if r.empty_records > 0 {
        println!("{indent}skipped     {} lines of empty cells", r.empty_records);
    }
    if r.repeated_headers > 0 {
        println!("{indent}skipped     {} lines repeating the header", r.repeated_headers);
    }
    if r.dropped_rows > 0 {
        println!("{indent}dropped     {} rows (--lenient)", r.dropped_rows);
        for d in &r.dropped_examples {
            println!("{indent}  line {} {}: {}", d.line, d.column, d.reason);
        }
    }
    for w in r.warnings.iter().filter(|_| warnings) {
        println!("{indent}warning     {w}");
    }
}
