//! The header of a flow CSV: read it, recognise the dialect, and match every column to a
//! feature or metadata field by name (the column plan the line parser follows).

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::LazyLock;

use super::{Action, LineLayout};
use crate::features::{FEATURES, N_FEATURES, normalize_column_name};
use crate::ingest::dialect::{self, Dialect};
use crate::ingest::error::IngestError;

/// The longest header line accepted; CICFlowMeter headers are about 1.5 KB.
pub(super) const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Metadata columns, by every spelling of the supported dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MetaColumn {
    FlowId,
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    Protocol,
    Timestamp,
    Label,
}

impl MetaColumn {
    pub(super) fn is_address(self) -> bool {
        matches!(self, MetaColumn::SrcIp | MetaColumn::DstIp)
    }

    pub(super) fn from_name(normalized: &str) -> Option<MetaColumn> {
        Some(match normalized {
            "flow id" => MetaColumn::FlowId,
            "source ip" | "src ip" => MetaColumn::SrcIp,
            "source port" | "src port" => MetaColumn::SrcPort,
            "destination ip" | "dst ip" => MetaColumn::DstIp,
            "destination port" | "dst port" => MetaColumn::DstPort,
            "protocol" => MetaColumn::Protocol,
            "timestamp" => MetaColumn::Timestamp,
            "label" => MetaColumn::Label,
            _ => return None,
        })
    }
}

/// Every spelling of every feature, normalised, to its schema index.
pub(super) static FEATURE_BY_NAME: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (i, f) in FEATURES.iter().enumerate() {
        for s in f.spellings() {
            map.insert(normalize_column_name(s), i);
        }
    }
    map
});

/// Which header column feeds which feature or metadata field.
#[derive(Debug)]
pub(super) struct ColumnPlan {
    pub(super) header: Vec<String>,
    pub(super) feature_col: [Option<usize>; N_FEATURES],
    pub(super) meta_cols: Vec<(MetaColumn, usize)>,
    pub(super) imputed: Vec<String>,
    pub(super) ignored: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl ColumnPlan {
    /// A file's report before any row is read: what its columns imply.
    pub(super) fn first_report(&self) -> crate::ingest::validate::ValidationReport {
        crate::ingest::validate::ValidationReport {
            imputed_columns: self.imputed.clone(),
            ignored_columns: self.ignored.clone(),
            warnings: self.warnings.clone(),
            ..Default::default()
        }
    }

    pub(super) fn meta(&self, m: MetaColumn) -> Option<usize> {
        self.meta_cols.iter().find(|(k, _)| *k == m).map(|(_, c)| *c)
    }
    /// What to do with each field of a line, by column position.
    pub(super) fn layout(&self) -> LineLayout {
        let mut actions = vec![Action::Skip; self.header.len()];
        for (f, col) in self.feature_col.iter().enumerate() {
            if let Some(c) = col {
                actions[*c] = Action::Feature(f);
            }
        }
        for (m, c) in &self.meta_cols {
            actions[*c] = Action::Meta(*m);
        }
        let imputed = (0..N_FEATURES).filter(|&f| self.feature_col[f].is_none()).collect();
        LineLayout { actions, imputed }
    }
}

pub(super) fn read_header(path: &Path, reader: &mut impl BufRead) -> Result<Vec<String>, IngestError> {
    let mut line = Vec::new();
    reader.by_ref().take(MAX_HEADER_BYTES).read_until(b'\n', &mut line).map_err(|e| IngestError::io(path, e))?;
    let text = String::from_utf8_lossy(&line);
    let text = text.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
    Ok(text.split(',').map(|h| h.trim().trim_matches('"').trim().to_string()).collect())
}

pub(super) fn detect_dialect(path: &Path, header: &[String]) -> Result<Dialect, IngestError> {
    dialect::detect(header).ok_or_else(|| {
        let recognised = header.iter().filter(|h| FEATURE_BY_NAME.contains_key(&normalize_column_name(h))).count();
        let mut preview = header.iter().take(6).map(|h| format!("'{h}'")).collect::<Vec<_>>().join(", ");
        // At a character boundary: a header of other scripts has multi-byte names (found by
        // the CSV fuzz target: a byte cut inside a character panicked).
        preview.truncate(preview.floor_char_boundary(200));
        IngestError::UnknownHeader { path: path.to_path_buf(), recognised, preview }
    })
}

/// Matches header columns to features and metadata by name, never by position; the address
/// columns are left unread without `addresses` (see `ReadOptions::addresses`).
pub(super) fn plan_columns(
    path: &Path,
    dialect: Dialect,
    header: Vec<String>,
    addresses: bool,
) -> Result<ColumnPlan, IngestError> {
    let mut plan = ColumnPlan {
        header,
        feature_col: [None; N_FEATURES],
        meta_cols: Vec::new(),
        imputed: Vec::new(),
        ignored: Vec::new(),
        warnings: Vec::new(),
    };
    for (col, name) in plan.header.iter().enumerate() {
        let key = normalize_column_name(name);
        if let Some(&f) = FEATURE_BY_NAME.get(&key) {
            if plan.feature_col[f].is_none() {
                plan.feature_col[f] = Some(col);
            } else {
                // The 2017 release writes `Fwd Header Length` twice, byte-identical.
                plan.warnings.push(format!("column {} '{name}' repeats an earlier column; the first is used", col + 1));
            }
        } else if let Some(m) = MetaColumn::from_name(&key) {
            if plan.meta(m).is_none() && (addresses || !m.is_address()) {
                plan.meta_cols.push((m, col));
            }
        } else {
            plan.ignored.push(name.clone());
        }
    }
    let spelling = |i: usize| match dialect {
        Dialect::CicFlowMeterV3 => FEATURES[i].v3,
        Dialect::CicFlowMeterV4 => FEATURES[i].v4,
        Dialect::Improved2021 => FEATURES[i].improved,
        _ => FEATURES[i].name,
    };
    let missing: Vec<String> = (0..N_FEATURES)
        .filter(|&i| plan.feature_col[i].is_none() && !FEATURES[i].optional)
        .map(|i| spelling(i).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns { path: path.to_path_buf(), dialect: dialect.to_string(), missing });
    }
    plan.imputed =
        (0..N_FEATURES).filter(|&i| plan.feature_col[i].is_none()).map(|i| FEATURES[i].name.to_string()).collect();
    Ok(plan)
}
