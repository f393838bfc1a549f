//! What the flows table shows: the analyst's filter (text, score range, family, a finding,
//! unfamiliar flows, a pivot) and order, and the rows that pass it. Computed here, off the
//! UI thread, for any number of flows; the window only draws the result.

use super::traffic::{PivotFilter, TimeRange};
use crate::detect::Findings;
use crate::ingest::{AttackFamily, FlowTable};
use crate::model::BriefVerdict;

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
    verdicts: Option<&[BriefVerdict]>,
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
        if query.time_range.is_some_and(|t| !t.contains(meta[r].timestamp_us())) {
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
            m.src_ip().map(|a| a.to_string()),
            m.dst_ip().map(|a| a.to_string()),
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
        SortColumn::Source => order.sort_by_key(|&r| (meta[r as usize].src_ip(), meta[r as usize].src_port)),
        SortColumn::Destination => order.sort_by_key(|&r| (meta[r as usize].dst_ip(), meta[r as usize].dst_port)),
        SortColumn::Protocol => order.sort_by_key(|&r| meta[r as usize].protocol),
        SortColumn::Start => order.sort_by_key(|&r| meta[r as usize].timestamp_us()),
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

/// Counts and plots of a batch of flows, for the flows view.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub flagged: usize,
    pub unfamiliar: usize,
    pub per_family: Vec<(AttackFamily, usize)>,
    pub histogram: Vec<usize>,
    /// Per time bin: its centre in seconds since the epoch, all flows, flagged flows by
    /// family (`AttackFamily::index()`).
    pub timeline: Vec<(f64, usize, [usize; AttackFamily::COUNT])>,
    /// The timeline axis: the first day and the clock the timestamps are in.
    pub timeline_axis: String,
}

/// Counts, a histogram of P(attack) in `histogram_bins` and the flows over time in
/// `timeline_bins`, flagged ones by family (runs off the UI thread).
pub fn summarise(
    table: &FlowTable,
    verdicts: Option<&[BriefVerdict]>,
    histogram_bins: usize,
    timeline_bins: usize,
) -> Summary {
    let mut histogram = vec![0; histogram_bins];
    let mut per_family = vec![0usize; AttackFamily::COUNT];
    let mut flagged = 0;
    let unfamiliar = verdicts.unwrap_or(&[]).iter().filter(|v| v.unfamiliar).count();
    let times: Vec<i64> = table.meta().iter().filter_map(|m| m.timestamp_us()).collect();
    let (t0, t1) = (times.iter().min().copied().unwrap_or(0), times.iter().max().copied().unwrap_or(0));
    let span = (t1 - t0).max(1) as f64;
    let bin_of = |t: i64| ((((t - t0) as f64 / span) * timeline_bins as f64) as usize).min(timeline_bins - 1);
    let mut timeline = vec![(0usize, [0usize; AttackFamily::COUNT]); timeline_bins];
    for &t in &times {
        timeline[bin_of(t)].0 += 1;
    }
    for (r, v) in verdicts.unwrap_or(&[]).iter().enumerate() {
        let bin = ((v.p_attack * histogram_bins as f32) as usize).min(histogram_bins - 1);
        histogram[bin] += 1;
        per_family[v.family.index()] += 1;
        if v.is_attack() {
            flagged += 1;
            if let Some(t) = table.meta()[r].timestamp_us() {
                timeline[bin_of(t)].1[v.family.index()] += 1;
            }
        }
    }
    let seconds_per_bin = span / 1e6 / timeline_bins as f64;
    let t0_s = t0 as f64 / 1e6;
    Summary {
        flagged,
        unfamiliar,
        per_family: AttackFamily::ALL
            .iter()
            .filter(|f| per_family[f.index()] > 0)
            .map(|f| (*f, per_family[f.index()]))
            .collect(),
        histogram,
        timeline: timeline
            .iter()
            .enumerate()
            .map(|(i, &(n, f))| (t0_s + (i as f64 + 0.5) * seconds_per_bin, n, f))
            .collect(),
        timeline_axis: timeline_axis(table, t0, times.is_empty()),
    }
}

/// The timeline's axis title, with the first day and the clock: captures carry UTC; CICFlowMeter CSVs
/// write the capturing machine's local time without a zone, so the axis says so.
fn timeline_axis(table: &FlowTable, t0: i64, empty: bool) -> String {
    if empty {
        return "no timestamps in these flows".into();
    }
    let day = crate::ingest::timestamp::format_timestamp(t0)[..10].to_string();
    let all_captures = table.sources.iter().all(|s| s.dialect == crate::ingest::Dialect::Capture);
    let clock = if all_captures { "UTC" } else { "as the CSV writes it, no time zone" };
    format!("time from {day} ({clock}); drag to select a span")
}
