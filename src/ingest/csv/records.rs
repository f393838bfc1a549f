//! Flow records as JSON objects keyed by column names (the REST API's input), matched like
//! CSV headers: any dialect's spelling of a feature, the same metadata columns, the same
//! value and label policies. Written here, beside the CSV parser, to share its name tables
//! and cell parsing, so a flow means the same whichever way it arrives.

use std::path::PathBuf;
use std::sync::LazyLock;

use rustc_hash::FxBuildHasher;

type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

use super::cells::{RowTexts, apply_meta};
use super::{FEATURE_BY_NAME, MetaColumn};

mod json;
use crate::features::{FEATURES, N_FEATURES, normalize_column_name};
use crate::ingest::ReadOptions;
use crate::ingest::dialect::{self, Dialect};
use crate::ingest::label::{AttackFamily, FlowLabel, is_no_label};
use crate::ingest::table::{FlowMeta, FlowTable, SourceFile};
use crate::ingest::validate::{ColumnCounts, ValidationReport, clean_value};

/// A JSON flow that cannot be read, naming the flow (0-based, in request order) and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonFlowError {
    #[error("flow {index}: field '{field}': {reason}")]
    BadField { index: usize, field: String, reason: String },
    #[error("flow {index}: missing feature(s) {}", missing.join(", "))]
    Missing { index: usize, missing: Vec<String> },
    #[error("no flows in the request")]
    Empty,
    #[error("body is not valid JSON of flows: {0}")]
    Invalid(String),
}

impl JsonFlowError {
    /// The field at fault, when one is.
    pub fn field(&self) -> Option<String> {
        match self {
            JsonFlowError::BadField { field, .. } => Some(field.clone()),
            JsonFlowError::Missing { missing, .. } => missing.first().cloned(),
            _ => None,
        }
    }
}

/// Reads a JSON body of flows (an array of flow objects, `{"flows": [...]}`, or one flow
/// object) into a table whose one source is called `name`. The body is read straight into
/// each flow's fields, keys borrowed from the bytes where they can be: building serde_json
/// values (a B-tree and a string per key) took as long as parsing does now. Addresses are
/// read only with `opts.addresses`.
pub fn read_json_flows(name: &str, body: &[u8], opts: &ReadOptions) -> Result<FlowTable, JsonFlowError> {
    let flows = match serde_json::from_slice::<json::Body>(body) {
        Ok(json::Body::Many(flows)) => flows,
        Ok(json::Body::One(flow)) => vec![flow],
        Err(e) => return Err(JsonFlowError::Invalid(e.to_string())),
    };
    if flows.is_empty() {
        return Err(JsonFlowError::Empty);
    }
    let mut features = Vec::with_capacity(flows.len() * N_FEATURES);
    let mut meta = Vec::with_capacity(flows.len());
    let mut labels: Vec<FlowLabel> = Vec::new();
    let mut counts = [ColumnCounts::default(); N_FEATURES];
    let mut ignored: Vec<String> = Vec::new();
    let mut slots: FxHashMap<String, Slot> = FxHashMap::default();
    for (index, flow) in flows.iter().enumerate() {
        let mut row = [None::<f32>; N_FEATURES];
        let mut m = FlowMeta::at_line(index as u64 + 1);
        let (mut label, mut flow_id) = (None, None);
        for (key, value) in &flow.fields {
            let bad = |reason: String| JsonFlowError::BadField { index, field: key.to_string(), reason };
            // Keys are mostly the schema's own spellings (one table lookup); any other
            // spelling is normalised once per request, as every flow spells its keys alike.
            let slot = match EXACT.get(key.as_ref()).or_else(|| slots.get(key.as_ref())) {
                Some(slot) => *slot,
                None => *slots.entry(key.to_string()).or_insert_with(|| slot_of(key)),
            };
            match slot {
                Slot::Feature(f) => row[f] = value.feature().map_err(bad)?,
                Slot::Meta(column) if column.is_address() && !opts.addresses => {}
                Slot::Meta(column) => {
                    let text = value.text().map_err(bad)?;
                    let mut texts = RowTexts::default();
                    apply_meta(column, text.as_bytes(), 0, &mut m, &mut texts)
                        .map_err(|_| bad(format!("'{text}' is not a number")))?;
                    if let Some(raw) = texts.label {
                        label = Some(flow_label(&String::from_utf8_lossy(raw)).map_err(bad)?);
                    }
                    if let Some(id) = texts.flow_id {
                        flow_id = Some(id.to_vec());
                    }
                }
                Slot::Ignored if !ignored.iter().any(|i| i == key) => ignored.push(key.to_string()),
                Slot::Ignored => {}
            }
        }
        let missing: Vec<String> = (0..N_FEATURES)
            .filter(|&f| row[f].is_none() && !FEATURES[f].optional)
            .map(|f| FEATURES[f].name.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(JsonFlowError::Missing { index, missing });
        }
        for (f, v) in row.iter().enumerate() {
            features.push(clean_value(*v, f, &mut counts[f]));
        }
        match (label, labels.len() == index) {
            (Some(Some(l)), true) => labels.push(l),
            // Labels are all or nothing, as in a file: a partly labelled request is unlabelled.
            _ => labels.clear(),
        }
        if let Some(id) = flow_id {
            m.set_flow_id(&id);
        }
        meta.push(m);
    }
    let labels = (labels.len() == flows.len()).then(|| labels.into());
    let keys: Vec<String> = flows[0].fields.iter().map(|(k, _)| k.to_string()).collect();
    let dialect = dialect::detect(&keys).unwrap_or(Dialect::NetVigilExport);
    let mut report = ValidationReport { ignored_columns: ignored, ..ValidationReport::default() };
    report.add_counts(&counts);
    report.rows = flows.len() as u64;
    let source = SourceFile::of_records(PathBuf::from(name), dialect, flows.len(), report);
    Ok(FlowTable::from_parts(features, meta, labels, vec![source]))
}

/// What a key of a flow object feeds.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Feature(usize),
    Meta(MetaColumn),
    Ignored,
}

/// Every dialect's exact spelling of every feature, and of the metadata columns.
static EXACT: LazyLock<FxHashMap<&'static str, Slot>> = LazyLock::new(|| {
    let mut map = FxHashMap::default();
    for (i, f) in FEATURES.iter().enumerate() {
        for s in f.spellings() {
            map.insert(s, Slot::Feature(i));
        }
    }
    for name in [
        "Flow ID",
        "Source IP",
        "Src IP",
        "Source Port",
        "Src Port",
        "Destination IP",
        "Dst IP",
        "Destination Port",
        "Dst Port",
        "Protocol",
        "Timestamp",
        "Label",
    ] {
        map.insert(name, slot_of(name));
    }
    map
});

fn slot_of(key: &str) -> Slot {
    let normalized = normalize_column_name(key);
    if let Some(&f) = FEATURE_BY_NAME.get(&normalized) {
        Slot::Feature(f)
    } else if let Some(column) = MetaColumn::from_name(&normalized) {
        Slot::Meta(column)
    } else {
        Slot::Ignored
    }
}

/// `Some(None)` for "no label" markers, an error for labels NetVigil does not know.
fn flow_label(raw: &str) -> Result<Option<FlowLabel>, String> {
    if is_no_label(raw) {
        return Ok(None);
    }
    AttackFamily::from_label(raw)
        .map(|family| Some(FlowLabel { raw: raw.trim().into(), family }))
        .ok_or_else(|| format!("unknown label '{raw}'"))
}
