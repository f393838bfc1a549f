//! Calibrations: the alert threshold of a model, set for a false-positive rate on a baseline
//! of known-good traffic. Saving one makes it the model's active calibration.

use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError};

/// A calibration to save.
#[derive(Debug, Clone)]
pub struct NewCalibration {
    pub model_name: String,
    pub threshold: f32,
    pub target_fpr: f64,
    /// The baseline files, one per line.
    pub baseline: String,
    /// SHA-256 of each baseline file, one per line.
    pub baseline_sha256: String,
    pub flows: usize,
    /// Share of the baseline flagged at the threshold before, and at the new one.
    pub fpr_before: f64,
    pub fpr_after: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CalibrationRecord {
    pub id: i64,
    pub model_name: String,
    pub threshold: f32,
    pub target_fpr: f64,
    pub baseline: String,
    pub baseline_sha256: String,
    pub flows: i64,
    pub fpr_before: f64,
    pub fpr_after: f64,
    pub active: bool,
    pub created_at: String,
}

const COLUMNS: &str = "c.id, m.name, c.threshold, c.target_fpr, c.baseline, c.baseline_sha256, c.flows, c.fpr_before, c.fpr_after, c.active, c.created_at";

fn from_row(r: &Row) -> rusqlite::Result<CalibrationRecord> {
    Ok(CalibrationRecord {
        id: r.get(0)?,
        model_name: r.get(1)?,
        threshold: r.get::<_, f64>(2)? as f32,
        target_fpr: r.get(3)?,
        baseline: r.get(4)?,
        baseline_sha256: r.get(5)?,
        flows: r.get(6)?,
        fpr_before: r.get(7)?,
        fpr_after: r.get(8)?,
        active: r.get::<_, i64>(9)? == 1,
        created_at: r.get(10)?,
    })
}

impl Store {
    /// Saves `c` as the active calibration of its model (the model must be registered).
    pub fn save_calibration(&mut self, c: &NewCalibration) -> Result<i64> {
        let model_id =
            self.model(&c.model_name)?.map(|m| m.id).ok_or_else(|| StoreError::UnknownModel(c.model_name.clone()))?;
        self.write(|tx| {
            tx.execute("UPDATE calibrations SET active = 0 WHERE model_id = ?1 AND active = 1", params![model_id])?;
            tx.execute(
                "INSERT INTO calibrations (model_id, threshold, target_fpr, baseline, baseline_sha256, flows, fpr_before, fpr_after, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                params![
                    model_id,
                    f64::from(c.threshold),
                    c.target_fpr,
                    c.baseline,
                    c.baseline_sha256,
                    c.flows as i64,
                    c.fpr_before,
                    c.fpr_after
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The active calibration of the model named `model_name`, if any.
    pub fn active_calibration(&self, model_name: &str) -> Result<Option<CalibrationRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calibrations c JOIN models m ON m.id = c.model_id WHERE m.name = ?1 AND c.active = 1"
        );
        self.optional(self.conn().query_row(&sql, params![model_name], from_row))
    }

    /// Every calibration, newest first.
    pub fn calibrations(&self) -> Result<Vec<CalibrationRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM calibrations c JOIN models m ON m.id = c.model_id ORDER BY c.id DESC");
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.err(e))?;
        stmt.query_map([], from_row).and_then(Iterator::collect).map_err(|e| self.err(e))
    }

    /// Removes the active calibration of a model: it goes back to the model's own threshold.
    pub fn clear_calibration(&mut self, model_name: &str) -> Result<()> {
        let model_id =
            self.model(model_name)?.map(|m| m.id).ok_or_else(|| StoreError::UnknownModel(model_name.to_string()))?;
        self.write(|tx| {
            tx.execute("UPDATE calibrations SET active = 0 WHERE model_id = ?1", params![model_id]).map(|_| ())
        })
    }
}
