//! `netvigil inspect`: what is in a set of flow files, and what ingest had to repair.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::InputArgs;
use crate::ingest::{FlowTable, ValidationReport, expand_inputs, read_file};

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
}

fn family_names(t: &FlowTable) -> BTreeMap<String, u64> {
    t.family_counts().into_iter().map(|(f, n)| (f.name().to_string(), n)).collect()
}

fn summarise(inputs: &InputArgs) -> anyhow::Result<InspectSummary> {
    let opts = inputs.read_options();
    let mut all = FlowTable::default();
    let mut files = Vec::new();
    for path in expand_inputs(&inputs.inputs)? {
        let table = read_file(&path, &opts)?;
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
        });
        all.append(table);
    }
    let mut report = ValidationReport::default();
    for f in &files {
        report.merge(&f.report);
    }
    let duplicate_rows = all.duplicate_count();
    report.duplicate_rows = duplicate_rows as u64;
    Ok(InspectSummary {
        rows: all.len(),
        labels: all.label_counts(),
        families: family_names(&all),
        duplicate_rows,
        report,
        files,
    })
}

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let summary = summarise(&args.input)?;
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
        print_report("  ", &f.report);
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
}

fn print_report(indent: &str, r: &ValidationReport) {
    for (col, c) in &r.columns {
        println!(
            "{indent}repaired    {col}: nan {} infinite {} empty {} sentinel -1 {} negative {}",
            c.nan, c.infinite, c.empty, c.sentinel, c.negative
        );
    }
    if !r.imputed_columns.is_empty() {
        println!("{indent}imputed 0   {}", r.imputed_columns.join(", "));
    }
    if r.dropped_rows > 0 {
        println!("{indent}dropped     {} rows (--lenient)", r.dropped_rows);
        for d in &r.dropped_examples {
            println!("{indent}  line {} {}: {}", d.line, d.column, d.reason);
        }
    }
    for w in &r.warnings {
        println!("{indent}warning     {w}");
    }
}
