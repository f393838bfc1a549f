//! The model registry: every bundle trained or imported, exactly one of them active.

use std::path::Path;

use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct ModelRecord {
    pub id: i64,
    pub name: String,
    pub bundle_path: String,
    pub sha256: String,
    pub run_id: Option<i64>,
    pub metrics: serde_json::Value,
    pub created_at: String,
    pub active: bool,
    /// False when the bundle folder was removed from disk since it was registered.
    pub present: bool,
}

const MODEL_COLUMNS: &str = "id, name, bundle_path, sha256, run_id, metrics_json, created_at, active";

fn model_from_row(r: &Row) -> rusqlite::Result<ModelRecord> {
    let bundle_path: String = r.get(2)?;
    Ok(ModelRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        present: Path::new(&bundle_path).exists(),
        bundle_path,
        sha256: r.get(3)?,
        run_id: r.get(4)?,
        metrics: r.get::<_, String>(5).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
        created_at: r.get(6)?,
        active: r.get::<_, i64>(7)? == 1,
    })
}

impl Store {
    /// Registers a complete bundle (call only after it was written and renamed into place).
    /// The first model registered becomes the active one. Registering a name again
    /// replaces its entry (a retrained bundle at the same place).
    pub fn register_model(
        &mut self,
        name: &str,
        bundle_path: &Path,
        sha256: &str,
        run_id: Option<i64>,
        metrics_json: &str,
    ) -> Result<i64> {
        let path = bundle_path.display().to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO models (name, bundle_path, sha256, run_id, metrics_json) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET bundle_path = excluded.bundle_path, sha256 = excluded.sha256,
                     run_id = excluded.run_id, metrics_json = excluded.metrics_json,
                     created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![name, path, sha256, run_id, metrics_json],
            )?;
            let id: i64 = tx.query_row("SELECT id FROM models WHERE name = ?1", params![name], |r| r.get(0))?;
            let active: i64 = tx.query_row("SELECT count(*) FROM models WHERE active = 1", [], |r| r.get(0))?;
            if active == 0 {
                tx.execute("UPDATE models SET active = 1 WHERE id = ?1", params![id])?;
            }
            Ok(id)
        })
    }

    /// Replaces the metrics kept for the model `name` whose bundle is at `bundle_path` (its
    /// bundle's `metrics.json` changed, e.g. a new alert threshold); false when no such model.
    pub fn update_model_metrics(&mut self, name: &str, bundle_path: &Path, metrics_json: &str) -> Result<bool> {
        let path = bundle_path.display().to_string();
        self.write(|tx| {
            tx.execute(
                "UPDATE models SET metrics_json = ?3 WHERE name = ?1 AND bundle_path = ?2",
                params![name, path, metrics_json],
            )
            .map(|n| n > 0)
        })
    }

    /// Makes `name` the one active model.
    pub fn activate_model(&mut self, name: &str) -> Result<ModelRecord> {
        let exists = self.model(name)?.is_some();
        if !exists {
            return Err(StoreError::UnknownModel(name.to_string()));
        }
        self.write(|tx| {
            tx.execute("UPDATE models SET active = 0 WHERE active = 1", [])?;
            tx.execute("UPDATE models SET active = 1 WHERE name = ?1", params![name]).map(|_| ())
        })?;
        self.model(name)?.ok_or_else(|| StoreError::UnknownModel(name.to_string()))
    }

    pub fn model(&self, name: &str) -> Result<Option<ModelRecord>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM models WHERE name = ?1");
        self.optional(self.conn().query_row(&sql, params![name], model_from_row))
    }

    pub fn active_model(&self) -> Result<Option<ModelRecord>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM models WHERE active = 1");
        self.optional(self.conn().query_row(&sql, [], model_from_row))
    }

    /// All models, newest first.
    pub fn models(&self) -> Result<Vec<ModelRecord>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY id DESC");
        let mut stmt = self.conn().prepare(&sql).map_err(|e| self.err(e))?;
        stmt.query_map([], model_from_row).and_then(Iterator::collect).map_err(|e| self.err(e))
    }
}
