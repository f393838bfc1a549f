//! Training (and comparison) runs with their per-epoch metrics.

use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError, own_pid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    Cancelled,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
    fn parse(s: &str) -> RunStatus {
        match s {
            "running" => RunStatus::Running,
            "finished" => RunStatus::Finished,
            "cancelled" => RunStatus::Cancelled,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Interrupted,
        }
    }
}

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// `train`, `finetune` or `compare`.
    pub kind: String,
    pub config_json: String,
    pub split: String,
    pub seed: u64,
    pub backend: String,
    /// Ids from [`Store::record_dataset`].
    pub datasets: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub kind: String,
    pub config: serde_json::Value,
    pub split: String,
    pub seed: i64,
    pub backend: String,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_s: Option<f64>,
    pub final_metrics: Option<serde_json::Value>,
    pub error: Option<String>,
    pub datasets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: i64,
    pub train_loss: f64,
    pub metrics: serde_json::Value,
}

fn json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

const RUN_COLUMNS: &str = "id, kind, config_json, split, seed, backend, status, started_at, finished_at, duration_s, final_metrics_json, error";

fn run_from_row(r: &Row) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        config: json(r.get(2)?).unwrap_or(serde_json::Value::Null),
        split: r.get(3)?,
        seed: r.get(4)?,
        backend: r.get(5)?,
        status: RunStatus::parse(&r.get::<_, String>(6)?),
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        duration_s: r.get(9)?,
        final_metrics: json(r.get(10)?),
        error: r.get(11)?,
        datasets: Vec::new(),
    })
}

impl Store {
    /// Records the start of a run (status `running`, this process's pid).
    pub fn start_run(&mut self, run: &NewRun) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runs (kind, config_json, split, seed, backend, status, pid)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
                params![run.kind, run.config_json, run.split, run.seed as i64, run.backend, own_pid()],
            )?;
            let id = tx.last_insert_rowid();
            for d in &run.datasets {
                tx.execute("INSERT OR IGNORE INTO run_datasets (run_id, dataset_id) VALUES (?1, ?2)", params![id, d])?;
            }
            Ok(id)
        })
    }

    /// Records one finished epoch (replacing it if the epoch is written again).
    pub fn record_epoch(&mut self, run_id: i64, epoch: u32, train_loss: f64, metrics_json: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO run_epochs (run_id, epoch, train_loss, metrics_json) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, epoch, train_loss, metrics_json],
            )
            .map(|_| ())
        })
    }

    /// Closes a run with its final status, metrics or error.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        status: RunStatus,
        duration_s: f64,
        final_metrics_json: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = ?2, duration_s = ?3, final_metrics_json = ?4, error = ?5,
                        finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?1",
                params![run_id, status.as_str(), duration_s, final_metrics_json, error],
            )
            .map(|_| ())
        })
    }

    /// All runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC");
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.err(e))?;
        let mut runs: Vec<RunRecord> =
            stmt.query_map([], run_from_row).and_then(Iterator::collect).map_err(|e| self.err(e))?;
        for r in &mut runs {
            r.datasets = self.run_datasets(r.id)?;
        }
        Ok(runs)
    }

    pub fn run(&self, id: i64) -> Result<RunRecord> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        let found = self.optional(self.conn().query_row(&sql, params![id], run_from_row))?;
        let mut run = found.ok_or(StoreError::UnknownRun(id))?;
        run.datasets = self.run_datasets(id)?;
        Ok(run)
    }

    fn run_datasets(&self, id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT d.path FROM run_datasets rd JOIN datasets d ON d.id = rd.dataset_id WHERE rd.run_id = ?1 ORDER BY d.id")
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![id], |r| r.get(0)).and_then(Iterator::collect).map_err(|e| self.err(e))
    }

    /// The epochs of a run, in order.
    pub fn epochs(&self, run_id: i64) -> Result<Vec<EpochRecord>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT epoch, train_loss, metrics_json FROM run_epochs WHERE run_id = ?1 ORDER BY epoch")
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![run_id], |r| {
            Ok(EpochRecord { epoch: r.get(0)?, train_loss: r.get(1)?, metrics: json(r.get(2)?).unwrap_or_default() })
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.err(e))
    }
}
