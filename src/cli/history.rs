//! `netvigil history ...` and `netvigil models ...`: the SQLite history from the shell.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ingest::export::write_atomically;
use crate::store::{RunRecord, Store};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub what: HistoryWhat,
}

#[derive(Debug, Subcommand)]
pub enum HistoryWhat {
    /// Training runs (newest first), or several side by side with --compare.
    Runs {
        #[arg(long)]
        json: bool,
        /// Show these runs' parameters and metrics side by side.
        #[arg(long, num_args = 1.., value_name = "ID")]
        compare: Vec<i64>,
    },
    /// The model registry (the active model is marked).
    Models {
        #[arg(long)]
        json: bool,
    },
    /// Scoring batches.
    Batches {
        #[arg(long)]
        json: bool,
    },
    /// Model comparisons (newest first), each with its table.
    Comparisons {
        #[arg(long)]
        json: bool,
    },
    /// Saved what-if investigations.
    Investigations {
        #[arg(long)]
        json: bool,
    },
    /// Everything as one JSON document (stdout, or a file written atomically).
    Export {
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Make NAME the model that scores flows.
    Activate { name: String },
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run_history(store: &Store, args: &HistoryArgs) -> anyhow::Result<()> {
    match &args.what {
        HistoryWhat::Runs { json, compare } if !compare.is_empty() => {
            let runs = compare.iter().map(|id| store.run(*id)).collect::<Result<Vec<_>, _>>()?;
            if *json {
                print_json(&runs)
            } else {
                print_comparison(&runs);
                Ok(())
            }
        }
        HistoryWhat::Runs { json: true, .. } => print_json(&store.runs()?),
        HistoryWhat::Comparisons { json: true } => {
            let all: Vec<serde_json::Value> = store
                .comparisons()?
                .into_iter()
                .map(|(run, rows)| serde_json::json!({ "run": run, "rows": rows }))
                .collect();
            print_json(&all)
        }
        HistoryWhat::Comparisons { json: false } => {
            for (run, rows) in store.comparisons()? {
                println!(
                    "run {}  split {}  {}  {}  {}",
                    run.id,
                    run.split,
                    run.status.as_str(),
                    run.started_at,
                    run.datasets.join(", ")
                );
                println!("{}", crate::train::compare::table_text(&rows));
            }
            Ok(())
        }
        HistoryWhat::Runs { .. } => {
            println!(
                "{:>4}  {:<8} {:<11} {:<7} {:<8} {:>9}  {:<24} f1",
                "id", "kind", "status", "split", "backend", "seconds", "started"
            );
            for r in store.runs()? {
                println!(
                    "{:>4}  {:<8} {:<11} {:<7} {:<8} {:>9}  {:<24} {}",
                    r.id,
                    r.kind,
                    r.status.as_str(),
                    r.split,
                    r.backend,
                    r.duration_s.map(|d| format!("{d:.1}")).unwrap_or_default(),
                    r.started_at,
                    metric(&r, "f1").map(|v| format!("{v:.4}")).unwrap_or_default()
                );
            }
            Ok(())
        }
        HistoryWhat::Models { json: true } => print_json(&store.models()?),
        HistoryWhat::Models { .. } => {
            for m in store.models()? {
                let mark = if m.active { "*" } else { " " };
                let missing = if m.present { "" } else { "  (bundle missing on disk)" };
                println!("{mark} {:<24} {}  {}{missing}", m.name, m.created_at, m.bundle_path);
            }
            Ok(())
        }
        HistoryWhat::Batches { json: true } => print_json(&store.batches()?),
        HistoryWhat::Batches { .. } => {
            for b in store.batches()? {
                let at = b.threshold.map_or("-".into(), |t| format!("{t:.4}"));
                println!(
                    "{:>4}  {:<11} {:<16} flows {:>9} flagged {:>9} at {at:<6}  {}",
                    b.id,
                    b.status,
                    b.model_name,
                    b.flows.unwrap_or(0),
                    b.flagged.unwrap_or(0),
                    b.input
                );
            }
            Ok(())
        }
        HistoryWhat::Investigations { json: true } => print_json(&store.investigations()?),
        HistoryWhat::Investigations { .. } => {
            for i in store.investigations()? {
                println!("{:>4}  {}  {:<16} {}  {}", i.id, i.created_at, i.model_name, i.tags.join(","), i.note);
            }
            Ok(())
        }
        HistoryWhat::Export { output } => {
            let doc = serde_json::to_string_pretty(&store.export_json()?)?;
            match output {
                Some(path) => {
                    write_atomically(path, |w| std::io::Write::write_all(w, doc.as_bytes()))?;
                    eprintln!("exported history to {}", path.display());
                }
                None => println!("{doc}"),
            }
            Ok(())
        }
    }
}

pub fn run_models(data_dir: &std::path::Path, args: &ModelsArgs) -> anyhow::Result<()> {
    match &args.action {
        ModelsAction::Activate { name } => {
            let m = crate::service::models::activate(data_dir, name)?;
            println!("active model: {} ({})", m.name, m.bundle_path);
            Ok(())
        }
    }
}

fn metric(r: &RunRecord, key: &str) -> Option<f64> {
    r.final_metrics.as_ref()?.get(key)?.as_f64()
}

/// Flattens a JSON object into `prefix.key` → printed value.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Array(_) => {}
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn print_comparison(runs: &[RunRecord]) {
    let columns: Vec<Vec<(String, String)>> = runs
        .iter()
        .map(|r| {
            let mut rows = vec![
                ("status".to_string(), r.status.as_str().to_string()),
                ("split".to_string(), r.split.clone()),
                ("seed".to_string(), r.seed.to_string()),
                ("backend".to_string(), r.backend.clone()),
                ("seconds".to_string(), r.duration_s.map(|d| format!("{d:.1}")).unwrap_or_default()),
            ];
            flatten("config", &r.config, &mut rows);
            if let Some(m) = &r.final_metrics {
                flatten("metrics", m, &mut rows);
            }
            rows
        })
        .collect();
    let keys: BTreeSet<&String> = columns.iter().flatten().map(|(k, _)| k).collect();
    print!("{:<32}", "run");
    for r in runs {
        print!(" {:>16}", r.id);
    }
    println!();
    for key in keys {
        print!("{key:<32}");
        for col in &columns {
            let v = col.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("");
            print!(" {v:>16}");
        }
        println!();
    }
}
