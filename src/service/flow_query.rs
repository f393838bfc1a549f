//! What the flows table shows: the analyst's filter (text, score range, family, a finding,
//! unfamiliar flows, a pivot) and order, and the rows that pass it. Computed here, off the
//! UI thread, for any number of flows; the window only draws the result.

use crate::detect::Findings;
use crate::ingest::{AttackFamily, FlowTable};
use crate::model::Verdict;
use super::traffic::{PivotFilter, TimeRange};

/// The sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortColumn {
    Row,
    /// The file a flow was read from, then its line (or first packet).
    File,
    Source,
    Destination,
    Protocol,
    Start,
    Label,
    Predicted,
    PAttack,
    Feature(usize),
}

/// What the table shows: filter and order. Changing it recomputes the visible rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuery {
    pub text: String,
    pub min_score: f32,
    pub max_score: f32,
    pub family: Option<AttackFamily>,
    /// Only the flows of this finding (an index into the loaded flows' findings).
    pub finding: Option<usize>,
    /// A conversation, address or port the analyst pivoted to (or excluded).
    pub pivot: Option<PivotFilter>,
    /// Only flows that started in this span (dragged on the timeline).
    pub time_range: Option<TimeRange>,
    /// Only flows the model marked unfamiliar (unlike all of its training data).
    pub unfamiliar_only: bool,
    pub sort: SortColumn,
    pub descending: bool,
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            text: String::new(),
            min_score: 0.0,
            max_score: 1.0,
            family: None,
            finding: None,
            pivot: None,
            time_range: None,
            unfamiliar_only: false,
            sort: SortColumn::Row,
            descending: false,
        }
    }
}

/// Visible rows for `query`, in order (runs off the UI thread). `findings` are those
/// `query.finding` indexes.
pub fn compute_order(
    table: &FlowTable,
    verdicts: Option<&[Verdict]>,
    findings: Option<&Findings>,
    query: &TableQuery,
) -> Vec<u32> {
    let needle = query.text.trim().to_lowercase();
    let labels = table.labels();
    let in_finding: Option<Vec<bool>> = query.finding.and_then(|i| findings?.findings.get(i)).map(|f| {
        let mut member = vec![false; table.len()];
        for &r in &f.rows {
            if let Some(m) = member.get_mut(r as usize) {
                *m = true;
            }
        }
        member
    });
    let meta = table.meta();
    let keep = |r: usize| -> bool {
        if query.pivot.as_ref().is_some_and(|p| !p.keeps(&meta[r])) {
            return false;
        }
        if query.time_range.is_some_and(|t| !t.contains(meta[r].timestamp_us)) {
            return false;
        }
        if in_finding.as_ref().is_some_and(|m| !m[r]) {
            return false;
        }
        if let Some(v) = verdicts.and_then(|v| v.get(r)) {
            if v.p_attack < query.min_score || v.p_attack > query.max_score {
                return false;
            }
            if query.unfamiliar_only && !v.unfamiliar {
                return false;
            }
            if query.family.is_some_and(|f| f != v.family) {
                return false;
            }
        } else if query.family.is_some() || query.unfamiliar_only {
            return false;
        }
        if needle.is_empty() {
            return true;
        }
        let m = &table.meta()[r];
        let hay = [
            m.src_ip.map(|a| a.to_string()),
            m.dst_ip.map(|a| a.to_string()),
            m.src_port.map(|p| p.to_string()),
            m.dst_port.map(|p| p.to_string()),
            labels.map(|l| l[r].raw.to_lowercase()),
            labels.map(|l| l[r].family.name().to_string()),
            verdicts.and_then(|v| v.get(r)).map(|v| v.label()),
        ];
        hay.iter().flatten().any(|h| h.contains(&needle))
    };
    let mut order: Vec<u32> = (0..table.len()).filter(|&r| keep(r)).map(|r| r as u32).collect();
    let score = |r: u32| verdicts.and_then(|v| v.get(r as usize)).map_or(-1.0, |v| v.p_attack);
    match query.sort {
        SortColumn::Row => {}
        SortColumn::File => order.sort_by_key(|&r| (meta[r as usize].source, meta[r as usize].line)),
        SortColumn::Source => order.sort_by_key(|&r| (meta[r as usize].src_ip, meta[r as usize].src_port)),
        SortColumn::Destination => order.sort_by_key(|&r| (meta[r as usize].dst_ip, meta[r as usize].dst_port)),
        SortColumn::Protocol => order.sort_by_key(|&r| meta[r as usize].protocol),
        SortColumn::Start => order.sort_by_key(|&r| meta[r as usize].timestamp_us),
        SortColumn::Label => {
            if let Some(l) = labels {
                order.sort_by(|&a, &b| l[a as usize].raw.cmp(&l[b as usize].raw));
            }
        }
        SortColumn::Predicted => {
            order.sort_by_key(|&r| verdicts.and_then(|v| v.get(r as usize)).map(|v| v.family));
        }
        SortColumn::PAttack => order.sort_by(|&a, &b| score(a).total_cmp(&score(b))),
        SortColumn::Feature(f) => order.sort_by(|&a, &b| table.row(a as usize)[f].total_cmp(&table.row(b as usize)[f])),
    }
    if query.descending {
        order.reverse();
    }
    order
}

