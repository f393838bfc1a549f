//! Model comparisons: each is a run of kind `compare`; its table lines are kept one row per
//! model, written as each model finishes, so a comparison cut short keeps what it measured.

use rusqlite::params;

use super::{Result, RunRecord, Store};
use crate::train::compare::ComparisonRow;

/// The run kind of a comparison.
pub const COMPARE_KIND: &str = "compare";

impl Store {
    /// Records the line of the model at `position` of comparison run `run_id`.
    pub fn record_comparison_row(&mut self, run_id: i64, position: usize, row: &ComparisonRow) -> Result<()> {
        let json = serde_json::to_string(row).unwrap_or_default();
        let m = &row.metrics;
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO comparison_results
                 (run_id, position, model, unsupervised, f1, precision, recall, false_positive_rate, roc_auc,
                  train_seconds, flows_per_second, row_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run_id,
                    position as i64,
                    row.model,
                    row.unsupervised,
                    m.f1,
                    m.precision,
                    m.recall,
                    m.false_positive_rate,
                    m.roc_auc,
                    row.train_seconds,
                    row.flows_per_second,
                    json
                ],
            )
            .map(|_| ())
        })
    }

    /// The lines of one comparison, in table order.
    pub fn comparison_rows(&self, run_id: i64) -> Result<Vec<ComparisonRow>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT row_json FROM comparison_results WHERE run_id = ?1 ORDER BY position")
            .map_err(|e| self.err(e))?;
        let texts: Vec<String> =
            stmt.query_map(params![run_id], |r| r.get(0)).and_then(Iterator::collect).map_err(|e| self.err(e))?;
        Ok(texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
    }

    /// Comparison runs, newest first, with their lines.
    pub fn comparisons(&self) -> Result<Vec<(RunRecord, Vec<ComparisonRow>)>> {
        let mut out = Vec::new();
        for run in self.runs()?.into_iter().filter(|r| r.kind == COMPARE_KIND) {
            let rows = self.comparison_rows(run.id)?;
            out.push((run, rows));
        }
        Ok(out)
    }
}
