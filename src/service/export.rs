//! Export of what the analyst sees: the flows shown (after filters) with their verdicts, as
//! CSV, Parquet (the columns `predict` writes, findings included) or Suricata EVE `alert`
//! JSON lines of the flagged ones, written atomically into `exports/` in the data folder.

use std::io::Write;
use std::path::PathBuf;

use crate::detect::Findings;
use crate::ingest::FlowTable;
use crate::ingest::export::{metadata_frame, write_atomically, write_frame};
use crate::model::Verdict;
use crate::model::output::{verdict_frame, with_findings};

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
                let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
                Ok(dir.join(format!("flows-{rows}-{stamp}.{}", format.extension())))
            }
        }
    }
}

/// Writes `rows` of `table` (with their `verdicts`, indexed like the table) to `target`
/// (atomically: a half-written file never appears); returns its path and the number of
/// records written.
pub fn export_rows(
    target: &ExportTarget,
    table: &FlowTable,
    verdicts: &[Verdict],
    findings: &Findings,
    rows: &[u32],
    format: ExportFormat,
    model: &str,
) -> anyhow::Result<(PathBuf, usize)> {
    anyhow::ensure!(verdicts.len() == table.len(), "the flows are not scored yet");
    let path = target.path(rows.len(), format)?;
    let shown = table.select(&rows.iter().map(|&r| r as usize).collect::<Vec<_>>());
    let shown_verdicts: Vec<Verdict> = rows.iter().map(|&r| verdicts[r as usize]).collect();
    if format == ExportFormat::Eve {
        let (text, alerts) = crate::model::eve::eve_json_lines(&shown, &shown_verdicts, model)?;
        write_atomically(&path, |f| f.write_all(text.as_bytes()))?;
        return Ok((path, alerts));
    }
    // Findings name flows by their row in the whole table; keep the shown rows' entries.
    let df = with_findings(verdict_frame(metadata_frame(table)?, verdicts)?, findings)?;
    let idx = polars::prelude::IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as polars::prelude::IdxSize).collect());
    let mut df = df.take(&idx)?;
    write_frame(&mut df, &path)?;
    Ok((path, rows.len()))
}
