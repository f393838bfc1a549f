//! What-if investigations as typed records: the flow (with its addresses, ports, protocol,
//! time and place in its file), the features before and after the analyst's edits, the
//! verdicts of both, a note and tags. Saved to and read back from the history here, so a
//! reopened investigation is the flow that was saved, not a row of numbers without an address.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::models::LoadedModel;
use crate::features::{FEATURES, N_FEATURES};
use crate::ingest::FlowMeta;
use crate::model::Verdict;
use crate::store::{InvestigationRecord, NewInvestigation, Store};

/// Where the investigated flow came from and who talked to whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowRef {
    /// 1-based row in the table it was opened from.
    #[serde(default)]
    pub row: Option<usize>,
    #[serde(default)]
    pub flow_id: Option<String>,
    #[serde(default)]
    pub src_ip: Option<IpAddr>,
    #[serde(default)]
    pub src_port: Option<u16>,
    #[serde(default)]
    pub dst_ip: Option<IpAddr>,
    #[serde(default)]
    pub dst_port: Option<u16>,
    #[serde(default)]
    pub protocol: Option<u8>,
    #[serde(default)]
    pub timestamp_us: Option<i64>,
    /// 1-based line of its file.
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub label: Option<String>,
    /// The feature the what-if sweep varied.
    #[serde(default)]
    pub swept_feature: Option<String>,
}

impl FlowRef {
    pub fn new(meta: &FlowMeta, row: Option<usize>, label: Option<String>) -> Self {
        FlowRef {
            row: row.map(|r| r + 1),
            flow_id: meta.flow_id().map(std::borrow::Cow::into_owned),
            src_ip: meta.src_ip(),
            src_port: meta.src_port,
            dst_ip: meta.dst_ip(),
            dst_port: meta.dst_port,
            protocol: meta.protocol,
            timestamp_us: meta.timestamp_us(),
            line: (meta.line > 0).then_some(meta.line),
            label,
            swept_feature: None,
        }
    }

    /// The flow's metadata again (its source file is not part of the record).
    pub fn meta(&self) -> FlowMeta {
        let mut meta = FlowMeta::at_line(self.line.unwrap_or(0));
        (meta.src_port, meta.dst_port, meta.protocol) = (self.src_port, self.dst_port, self.protocol);
        meta.set_src_ip(self.src_ip);
        meta.set_dst_ip(self.dst_ip);
        meta.set_timestamp_us(self.timestamp_us);
        if let Some(id) = &self.flow_id {
            meta.set_flow_id(id.as_bytes());
        }
        meta
    }

    /// Reads a saved `flow` object; records written before the typed form kept the endpoints
    /// as "address:port" text under `src` and `dst`.
    fn from_json(v: &serde_json::Value) -> Self {
        let mut flow: FlowRef = serde_json::from_value(v.clone()).unwrap_or_default();
        let endpoint = |key: &str| v.get(key).and_then(|s| s.as_str()).and_then(|s| s.parse::<SocketAddr>().ok());
        if flow.src_ip.is_none() {
            if let Some(a) = endpoint("src") {
                (flow.src_ip, flow.src_port) = (Some(a.ip()), Some(a.port()));
            }
        }
        if flow.dst_ip.is_none() {
            if let Some(a) = endpoint("dst") {
                (flow.dst_ip, flow.dst_port) = (Some(a.ip()), Some(a.port()));
            }
        }
        flow
    }
}

/// A verdict as kept with an investigation (readable whatever the model version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub p_attack: f32,
    pub family: String,
    #[serde(default)]
    pub family_probs: Vec<f32>,
    #[serde(default)]
    pub gate: Vec<f32>,
    #[serde(default)]
    pub unfamiliar: bool,
}

impl From<&Verdict> for VerdictRecord {
    fn from(v: &Verdict) -> Self {
        VerdictRecord {
            p_attack: v.p_attack,
            family: v.family.name().to_string(),
            family_probs: v.family_probs.to_vec(),
            gate: v.gate.to_vec(),
            unfamiliar: v.unfamiliar,
        }
    }
}

/// One investigation, saved or about to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    /// Set once saved.
    pub id: Option<i64>,
    pub created_at: Option<String>,
    pub model_name: String,
    /// What the flow was opened from: the file names, an example, an earlier investigation.
    pub origin: String,
    pub flow: FlowRef,
    pub before: [f32; N_FEATURES],
    pub after: [f32; N_FEATURES],
    pub verdict_before: VerdictRecord,
    pub verdict_after: VerdictRecord,
    pub note: String,
    pub tags: Vec<String>,
}

impl Investigation {
    /// The investigation of `flow` as `model` judges it before and after the edits.
    pub fn new(
        model: &LoadedModel,
        origin: String,
        flow: FlowRef,
        before: [f32; N_FEATURES],
        after: [f32; N_FEATURES],
        note: String,
        tags: Vec<String>,
    ) -> Self {
        let verdicts = model.scorer.score_raw(&[before, after].concat());
        Investigation {
            id: None,
            created_at: None,
            model_name: model.name.clone(),
            origin,
            flow,
            before,
            after,
            verdict_before: (&verdicts[0]).into(),
            verdict_after: (&verdicts[1]).into(),
            note,
            tags,
        }
    }

    fn to_new(&self) -> anyhow::Result<NewInvestigation> {
        Ok(NewInvestigation {
            model_name: self.model_name.clone(),
            source: Some(self.origin.clone()),
            flow_json: serde_json::to_string(&self.flow)?,
            features_before_json: named_features(&self.before).to_string(),
            features_after_json: named_features(&self.after).to_string(),
            verdict_before_json: serde_json::to_string(&self.verdict_before)?,
            verdict_after_json: serde_json::to_string(&self.verdict_after)?,
            note: self.note.clone(),
            tags: self.tags.clone(),
        })
    }

    /// An investigation as the history holds it.
    pub fn from_record(r: &InvestigationRecord) -> Self {
        let verdict = |v: &serde_json::Value| {
            serde_json::from_value(v.clone()).unwrap_or(VerdictRecord {
                p_attack: f32::NAN,
                family: String::new(),
                family_probs: vec![],
                gate: vec![],
                unfamiliar: false,
            })
        };
        Investigation {
            id: Some(r.id),
            created_at: Some(r.created_at.clone()),
            model_name: r.model_name.clone(),
            origin: r.source.clone().unwrap_or_default(),
            flow: FlowRef::from_json(&r.flow),
            before: features_of(&r.features_before),
            after: features_of(&r.features_after),
            verdict_before: verdict(&r.verdict_before),
            verdict_after: verdict(&r.verdict_after),
            note: r.note.clone(),
            tags: r.tags.clone(),
        }
    }
}

/// Saves `inv` to the history in `data_dir`; returns its id.
pub fn save(data_dir: &Path, inv: &Investigation) -> anyhow::Result<i64> {
    Ok(Store::open(data_dir)?.save_investigation(&inv.to_new()?)?)
}

/// Every saved investigation, newest first.
pub fn list(data_dir: &Path) -> anyhow::Result<Vec<Investigation>> {
    Ok(Store::open(data_dir)?.investigations()?.iter().map(Investigation::from_record).collect())
}

/// Features as a JSON object keyed by canonical name.
pub fn named_features(row: &[f32; N_FEATURES]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> =
        FEATURES.iter().zip(row).map(|(f, v)| (f.name.to_string(), serde_json::json!(v))).collect();
    serde_json::Value::Object(map)
}

fn features_of(v: &serde_json::Value) -> [f32; N_FEATURES] {
    let mut row = [0.0f32; N_FEATURES];
    for (i, f) in FEATURES.iter().enumerate() {
        row[i] = v.get(f.name).and_then(serde_json::Value::as_f64).unwrap_or(0.0) as f32;
    }
    row
}
