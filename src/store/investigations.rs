//! Saved what-if investigations: a flow, the analyst's edits, the verdicts before and after.

use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store};

/// An investigation to save. Features and verdicts are JSON so the record stays readable
/// whatever the model version.
#[derive(Debug, Clone)]
pub struct NewInvestigation {
    pub model_name: String,
    pub source: Option<String>,
    pub flow_json: String,
    pub features_before_json: String,
    pub features_after_json: String,
    pub verdict_before_json: String,
    pub verdict_after_json: String,
    pub note: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvestigationRecord {
    pub id: i64,
    pub created_at: String,
    pub model_name: String,
    pub source: Option<String>,
    pub flow: serde_json::Value,
    pub features_before: serde_json::Value,
    pub features_after: serde_json::Value,
    pub verdict_before: serde_json::Value,
    pub verdict_after: serde_json::Value,
    pub note: String,
    pub tags: Vec<String>,
}

fn parse(s: String) -> serde_json::Value {
    serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
}

fn investigation_from_row(r: &Row) -> rusqlite::Result<InvestigationRecord> {
    Ok(InvestigationRecord {
        id: r.get(0)?,
        created_at: r.get(1)?,
        model_name: r.get(2)?,
        source: r.get(3)?,
        flow: parse(r.get(4)?),
        features_before: parse(r.get(5)?),
        features_after: parse(r.get(6)?),
        verdict_before: parse(r.get(7)?),
        verdict_after: parse(r.get(8)?),
        note: r.get(9)?,
        tags: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
    })
}

impl Store {
    pub fn save_investigation(&mut self, inv: &NewInvestigation) -> Result<i64> {
        let tags = serde_json::to_string(&inv.tags).unwrap_or_else(|_| "[]".into());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO investigations (model_name, source, flow_json, features_before_json, features_after_json,
                     verdict_before_json, verdict_after_json, note, tags_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    inv.model_name,
                    inv.source,
                    inv.flow_json,
                    inv.features_before_json,
                    inv.features_after_json,
                    inv.verdict_before_json,
                    inv.verdict_after_json,
                    inv.note,
                    tags
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// All investigations, newest first.
    pub fn investigations(&self) -> Result<Vec<InvestigationRecord>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, created_at, model_name, source, flow_json, features_before_json, features_after_json,
                        verdict_before_json, verdict_after_json, note, tags_json
                 FROM investigations ORDER BY id DESC",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], investigation_from_row).and_then(Iterator::collect).map_err(|e| self.err(e))
    }
}
