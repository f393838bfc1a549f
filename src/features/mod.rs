//! The 72-feature flow schema shared by every stage: ingest fills it, the model reads it,
//! the GUI shows it. One static table ([`FEATURES`]) is the single source of truth.
//!
//! Layout: the 25 temporal features come first, in the order the CNN expert convolves them
//! (`TEMPORAL`), then the 47 tabular features for the FT-Transformer (`TABULAR`).
//!
//! Columns of CICFlowMeter output that are deliberately *not* features:
//! - identifiers, kept as flow metadata instead: `Flow ID`, `Source IP`, `Source Port`,
//!   `Destination IP`, `Destination Port`, `Protocol` (missing from the MachineLearningCVE
//!   dialect too), `Timestamp`, and the corrected release's `id` row number;
//! - `Label` and `Attempted Category` (targets, not inputs);
//! - duplicates: the second `Fwd Header Length` of the 2017 release (byte-identical to the first);
//! - identical to another feature: `Avg Fwd Segment Size` (= `Fwd Packet Length Mean`),
//!   `Avg Bwd Segment Size` (= `Bwd Packet Length Mean`), `Average Packet Size`
//!   (= `Packet Length Mean` in the corrected release), `Packet Length Variance`
//!   (= `Packet Length Std` squared); checked on all 43,419 rows of the corrected sample;
//! - missing from every dialect but the corrected 2021 release: `Fwd RST Flags`,
//!   `Bwd RST Flags`, `ICMP Code`, `ICMP Type`, `Total TCP Flow Time`.

pub mod consistency;
mod schema;

pub use schema::*;

/// Number of features in the schema.
pub const N_FEATURES: usize = 72;
/// Number of temporal features (the CNN expert's sequence).
pub const N_TEMPORAL: usize = 25;
/// Number of tabular features (the FT-Transformer expert's tokens).
pub const N_TABULAR: usize = 47;

/// Indices of the temporal features, in the order the CNN expert convolves them.
pub const TEMPORAL: std::ops::Range<usize> = 0..N_TEMPORAL;
/// Indices of the tabular features.
pub const TABULAR: std::ops::Range<usize> = N_TEMPORAL..N_FEATURES;

/// Which tab of the inspector shows a feature: the direction the statistic describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    Flow,
    Forward,
    Backward,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Flow, Tab::Forward, Tab::Backward];
    pub fn label(self) -> &'static str {
        match self {
            Tab::Flow => "Flow",
            Tab::Forward => "Forward",
            Tab::Backward => "Backward",
        }
    }
}

/// Which expert of the mixture reads a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Expert {
    /// The FT-Transformer over tabular features.
    Tabular,
    /// The 1D-CNN over the temporal sequence.
    Temporal,
}

/// Unit of a feature value as CICFlowMeter writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    /// Microseconds.
    Micros,
    Bytes,
    Packets,
    BytesPerSec,
    PacketsPerSec,
    /// A count of flags or events.
    Count,
    /// A dimensionless ratio.
    Ratio,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Micros => "µs",
            Unit::Bytes => "B",
            Unit::Packets => "pkts",
            Unit::BytesPerSec => "B/s",
            Unit::PacketsPerSec => "pkts/s",
            Unit::Count => "count",
            Unit::Ratio => "ratio",
        }
    }
}

/// How a value below zero is treated (see `ingest::validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sign {
    /// Can never be negative: a negative value is a CICFlowMeter overflow bug, clamped to 0.
    NonNegative,
    /// `-1` is CICFlowMeter's "never seen" sentinel (initial TCP windows); kept as -1.
    SentinelMinusOne,
}

/// One row of the schema table.
#[derive(Debug, Clone, Copy)]
pub struct FeatureSpec {
    pub id: FeatureId,
    /// Canonical name (the 2017 release's spelling, without its leading spaces).
    pub name: &'static str,
    /// Spelling in the CICFlowMeter-V3 header of the official tool (`test_v3header_nolabel.csv`).
    pub v3: &'static str,
    /// Spelling in the CICFlowMeter-V4 short header (`Tot Fwd Pkts`, ...).
    pub v4: &'static str,
    /// Spelling in the corrected CICIDS2017 of 2021 (Engelen et al.).
    pub improved: &'static str,
    pub unit: Unit,
    pub tab: Tab,
    pub sign: Sign,
    /// Optional features may be missing from a file; they are imputed with 0 and reported.
    /// These are the ones constant zero in the whole 2017 release, so 0 is what a model saw.
    pub optional: bool,
    /// One line for tooltips.
    pub description: &'static str,
}

impl FeatureSpec {
    pub fn index(&self) -> usize {
        self.id as usize
    }
    pub fn expert(&self) -> Expert {
        if TEMPORAL.contains(&self.index()) { Expert::Temporal } else { Expert::Tabular }
    }
    /// Every spelling of this feature across the supported dialects.
    pub fn spellings(&self) -> [&'static str; 4] {
        [self.name, self.v3, self.v4, self.improved]
    }
}

/// Look a feature up by its canonical name or any dialect spelling (case and spacing ignored).
pub fn feature_by_name(name: &str) -> Option<&'static FeatureSpec> {
    let key = normalize_column_name(name);
    FEATURES.iter().find(|f| f.spellings().iter().any(|s| normalize_column_name(s) == key))
}

/// Column-name key used for matching: lower case, every run of characters other than letters
/// and digits one space, none at the ends. So `Flow Byts/s`, `Flow_Byts_s` and `flow_byts_s`
/// (the snake_case of the Python `cicflowmeter` and of re-exported copies of CSE-CIC-IDS2018)
/// meet, as do ` Flow Bytes/s` and `Flow Bytes/s`; no two features' spellings meet (tested).
pub fn normalize_column_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.trim_start_matches('\u{feff}').chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The eight whole-flow flag counts in schema order (FIN SYN RST PSH ACK URG CWR ECE): the
/// order in which the extractor maps TCP flag bits onto them.
pub const FLAG_COUNTS: [FeatureId; 8] = [
    FeatureId::FinFlagCount,
    FeatureId::SynFlagCount,
    FeatureId::RstFlagCount,
    FeatureId::PshFlagCount,
    FeatureId::AckFlagCount,
    FeatureId::UrgFlagCount,
    FeatureId::CwrFlagCount,
    FeatureId::EceFlagCount,
];

/// Every flag feature: PSH and URG per direction, then the eight whole-flow counts.
const FLAG_FEATURES: [FeatureId; 12] = {
    let per_direction =
        [FeatureId::FwdPshFlags, FeatureId::BwdPshFlags, FeatureId::FwdUrgFlags, FeatureId::BwdUrgFlags];
    let mut out = [FeatureId::FwdPshFlags; 12];
    let mut i = 0;
    while i < 12 {
        out[i] = if i < 4 { per_direction[i] } else { FLAG_COUNTS[i - 4] };
        i += 1;
    }
    out
};

/// Named groups of features that share one origin, so an ablation or a feature treatment can
/// name a whole group (`--mask-features init-window`). Each group is one suspected dataset
/// artefact: what differs between CICFlowMeter versions or testbeds more than between benign
/// and attack traffic.
pub const FEATURE_GROUPS: &[(&str, &[FeatureId])] = &[
    // The initiator's and responder's first TCP window: set by the operating system, so it
    // names the testbed's machines (and nmap's fixed 1024) as much as the attack.
    ("init-window", &[FeatureId::InitWinBytesFwd, FeatureId::InitWinBytesBwd]),
    // Header bytes: the 2017 tool counted them with a bug (negative overflows, doubled column).
    ("header-length", &[FeatureId::FwdHeaderLength, FeatureId::BwdHeaderLength, FeatureId::MinSegSizeFwd]),
    // Active/idle periods: absolute timestamps in the 2017 tool, relative in the corrected one.
    (
        "active-idle",
        &[
            FeatureId::ActiveMean,
            FeatureId::ActiveStd,
            FeatureId::ActiveMax,
            FeatureId::ActiveMin,
            FeatureId::IdleMean,
            FeatureId::IdleStd,
            FeatureId::IdleMax,
            FeatureId::IdleMin,
        ],
    ),
    // Rates divide by the duration: infinite or huge for the short flows the tools differ on.
    (
        "rates",
        &[
            FeatureId::FlowBytesPerSec,
            FeatureId::FlowPacketsPerSec,
            FeatureId::FwdPacketsPerSec,
            FeatureId::BwdPacketsPerSec,
        ],
    ),
    // Flag counts: the 2017 tool counted PSH/URG per direction only on some packets.
    ("flags", &FLAG_FEATURES),
    // Subflows: integer division in the 2017 tool.
    (
        "subflow",
        &[
            FeatureId::SubflowFwdPackets,
            FeatureId::SubflowFwdBytes,
            FeatureId::SubflowBwdPackets,
            FeatureId::SubflowBwdBytes,
        ],
    ),
];

/// Resolves feature names and group names (see [`FEATURE_GROUPS`]) to schema indices.
pub fn resolve_features(names: &[String]) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for name in names {
        if let Some((_, ids)) = FEATURE_GROUPS.iter().find(|(g, _)| g.eq_ignore_ascii_case(name.trim())) {
            out.extend(ids.iter().map(|&id| id as usize));
        } else if let Some(spec) = feature_by_name(name) {
            out.push(spec.index());
        } else {
            let groups: Vec<&str> = FEATURE_GROUPS.iter().map(|(g, _)| *g).collect();
            return Err(format!("'{name}' is neither a feature nor a feature group ({})", groups.join(", ")));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
