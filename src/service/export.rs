//! Export of what the analyst sees: the flows shown (after filters) with their verdicts, as
//! CSV, Parquet (the columns `predict` writes, findings included) or Suricata EVE `alert`
//! JSON lines of the flagged ones, written atomically into `exports/` in the data folder.

use std::io::Write;
use std::path::PathBuf;

use super::models::LoadedModel;
use super::task::Task;
use crate::detect::Findings;
use crate::ingest::FlowTable;
use crate::ingest::export::{metadata_frame, write_atomically, write_frame};
use crate::model::output::{verdict_frame, with_finding_labels};
use crate::model::{BriefVerdict, Verdict};

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
    /// Flagged flows only, one EVE `alert` record per line.
    Eve,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Csv, ExportFormat::Parquet, ExportFormat::Eve];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Parquet => "Parquet",
            ExportFormat::Eve => "EVE alerts (JSON lines)",
        }
    }

    /// The file name ending of this format ("csv", "parquet", "eve.json").
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
            ExportFormat::Eve => "eve.json",
        }
    }
}

/// Where an export goes: a new file in `<data_dir>/exports/`, or a path the analyst chose.
#[derive(Debug, Clone)]
pub enum ExportTarget {
    DataFolder(PathBuf),
    File(PathBuf),
}

impl ExportTarget {
    fn path(&self, rows: usize, format: ExportFormat) -> anyhow::Result<PathBuf> {
        match self {
            ExportTarget::File(path) => Ok(path.clone()),
            ExportTarget::DataFolder(data_dir) => {
                let dir = data_dir.join("exports");
                std::fs::create_dir_all(&dir)?;
                let stamp =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
                Ok(dir.join(format!("flows-{rows}-{stamp}.{}", format.extension())))
            }
        }
    }
}

/// Writes `rows` of `table` (with their `verdicts`, indexed like the table) to `target`
/// (atomically: a half-written file never appears); returns its path and the number of
/// records written. The window keeps brief verdicts only; the probabilities per family and
/// the gate weights that CSV and Parquet carry are computed again here with `model`, the one
/// that gave `verdicts`.
pub fn export_rows(
    target: &ExportTarget,
    table: &FlowTable,
    (model, verdicts): (&LoadedModel, &[BriefVerdict]),
    findings: &Findings,
    rows: &[u32],
    format: ExportFormat,
    task: &Task,
) -> anyhow::Result<(PathBuf, usize)> {
    anyhow::ensure!(verdicts.len() == table.len(), "the flows are not scored yet");
    let path = target.path(rows.len(), format)?;
    if format == ExportFormat::Eve {
        // The flows shown that the model flags or a finding covers, as alerts.
        let labels = findings.per_flow_of(rows);
        let marked: Vec<usize> =
            (0..rows.len()).filter(|&i| verdicts[rows[i] as usize].is_attack() || !labels[i].is_empty()).collect();
        let table_rows: Vec<usize> = marked.iter().map(|&i| rows[i] as usize).collect();
        let marked_verdicts: Vec<BriefVerdict> = table_rows.iter().map(|&r| verdicts[r]).collect();
        let marked_labels: Vec<String> = marked.iter().map(|&i| labels[i].clone()).collect();
        let (text, alerts) = crate::model::eve::eve_json_lines(
            &table.select(&table_rows),
            &marked_verdicts,
            &marked_labels,
            &model.name,
        )?;
        write_atomically(&path, |f| f.write_all(text.as_bytes()))?;
        return Ok((path, alerts));
    }
    let shown_verdicts = score_rows_of(model, table, rows, task)?;
    let idx =
        polars::prelude::IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as polars::prelude::IdxSize).collect());
    let df = verdict_frame(metadata_frame(table)?.take(&idx)?, &shown_verdicts)?;
    let mut df = with_finding_labels(df, findings.per_flow_of(rows))?;
    write_frame(&mut df, &path)?;
    Ok((path, rows.len()))
}

/// Full verdicts of `rows` of `table`, a part at a time (no copy of all their features).
fn score_rows_of(
    model: &LoadedModel,
    table: &FlowTable,
    rows: &[u32],
    task: &Task,
) -> Result<Vec<Verdict>, super::task::Cancelled> {
    let mut verdicts = Vec::with_capacity(rows.len());
    for part in rows.chunks(1 << 16) {
        let features: Vec<f32> = part.iter().flat_map(|&r| table.row(r as usize)).copied().collect();
        verdicts.extend(super::scoring::score_rows(model, &features, task)?);
    }
    Ok(verdicts)
}
