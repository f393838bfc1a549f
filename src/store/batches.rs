//! Scoring batches: which input was scored by which model, with what outcome. The per-flow
//! results are a Parquet file in `results/`, named by the SHA-256 of its content.

use std::collections::BTreeMap;

use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store, own_pid};

#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    pub id: i64,
    pub input: String,
    pub model_name: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub flows: Option<i64>,
    pub flagged: Option<i64>,
    pub family_counts: Option<BTreeMap<String, u64>>,
    pub results_file: Option<String>,
    pub results_sha256: Option<String>,
    pub flows_per_s: Option<f64>,
    pub error: Option<String>,
    /// PSI per feature against the model's training data (`model::drift::DriftReport`).
    pub drift: Option<serde_json::Value>,
    /// P(attack) at which flows were flagged; absent in batches recorded before schema 7.
    pub threshold: Option<f64>,
}

/// The outcome of a finished batch.
#[derive(Debug, Clone)]
pub struct FinishedBatch {
    pub flows: usize,
    pub flagged: usize,
    pub family_counts: BTreeMap<String, u64>,
    /// File name inside [`Store::results_dir`], and its SHA-256.
    pub results_file: Option<(String, String)>,
    pub flows_per_s: f64,
    /// The batch's drift report as JSON, when the model has training quantiles.
    pub drift_json: Option<String>,
    /// P(attack) at which flows were flagged.
    pub threshold: f32,
}

const BATCH_COLUMNS: &str = "id, input, model_name, status, started_at, finished_at, flows, flagged, \
     family_counts_json, results_file, results_sha256, flows_per_s, error, drift_json, threshold";

fn batch_from_row(r: &Row) -> rusqlite::Result<BatchRecord> {
    Ok(BatchRecord {
        id: r.get(0)?,
        input: r.get(1)?,
        model_name: r.get(2)?,
        status: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        flows: r.get(6)?,
        flagged: r.get(7)?,
        family_counts: r.get::<_, Option<String>>(8)?.and_then(|s| serde_json::from_str(&s).ok()),
        results_file: r.get(9)?,
        results_sha256: r.get(10)?,
        flows_per_s: r.get(11)?,
        error: r.get(12)?,
        drift: r.get::<_, Option<String>>(13)?.and_then(|s| serde_json::from_str(&s).ok()),
        threshold: r.get(14)?,
    })
}

impl Store {
    /// Records the start of a scoring batch (status `running`).
    pub fn start_batch(&mut self, input: &str, model_name: &str) -> Result<i64> {
        let model_id = self.model(model_name)?.map(|m| m.id);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO batches (input, model_name, model_id, status, pid) VALUES (?1, ?2, ?3, 'running', ?4)",
                params![input, model_name, model_id, own_pid()],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub fn finish_batch(&mut self, id: i64, b: &FinishedBatch) -> Result<()> {
        let counts = serde_json::to_string(&b.family_counts).unwrap_or_else(|_| "{}".into());
        let (file, sha) = b.results_file.clone().unzip();
        self.write(|tx| {
            tx.execute(
                "UPDATE batches SET status = 'finished', flows = ?2, flagged = ?3, family_counts_json = ?4,
                        results_file = ?5, results_sha256 = ?6, flows_per_s = ?7, drift_json = ?8, threshold = ?9,
                        finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?1",
                params![
                    id,
                    b.flows as i64,
                    b.flagged as i64,
                    counts,
                    file,
                    sha,
                    b.flows_per_s,
                    b.drift_json,
                    f64::from(b.threshold)
                ],
            )
            .map(|_| ())
        })
    }

    /// The counts so far of a batch still running (a server's session): it stays `running`.
    pub fn update_running_batch(&mut self, id: i64, b: &FinishedBatch) -> Result<()> {
        let counts = serde_json::to_string(&b.family_counts).unwrap_or_else(|_| "{}".into());
        self.write(|tx| {
            tx.execute(
                "UPDATE batches SET flows = ?2, flagged = ?3, family_counts_json = ?4, flows_per_s = ?5, threshold = ?6
                 WHERE id = ?1 AND status = 'running'",
                params![id, b.flows as i64, b.flagged as i64, counts, b.flows_per_s, f64::from(b.threshold)],
            )
            .map(|_| ())
        })
    }

    pub fn fail_batch(&mut self, id: i64, error: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE batches SET status = 'failed', error = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?1",
                params![id, error],
            )
            .map(|_| ())
        })
    }

    /// All batches, newest first.
    pub fn batches(&self) -> Result<Vec<BatchRecord>> {
        let sql = format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC");
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.err(e))?;
        stmt.query_map([], batch_from_row).and_then(Iterator::collect).map_err(|e| self.err(e))
    }
}

impl Store {
    /// Saves per-flow results as `results/<sha256>.parquet` (written atomically, named by its
    /// content) and returns the file name and hash for [`FinishedBatch::results_file`]. The
    /// frame comes a part at a time (parts of the same columns, at least one), each written as
    /// it comes: the results of ten million flows never exist as one frame.
    pub fn save_results_parts<E: std::fmt::Display>(
        &self,
        parts: impl Iterator<Item = std::result::Result<polars::prelude::DataFrame, E>>,
    ) -> Result<(String, String)> {
        let dir = self.results_dir();
        let io = |source| super::StoreError::Io { path: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let tmp = dir.join(format!(".incoming-{}.parquet", own_pid()));
        crate::ingest::export::write_atomically(&tmp, |file| crate::ingest::export::write_parquet_parts(file, parts))
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let sha = crate::ingest::hash::sha256_file(&tmp).map_err(io)?;
        let name = format!("{sha}.parquet");
        std::fs::rename(&tmp, dir.join(&name)).map_err(io)?;
        Ok((name, sha))
    }
}
