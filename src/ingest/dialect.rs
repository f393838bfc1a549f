//! CSV dialects of CICFlowMeter output, recognised from the header alone.

use serde::Serialize;

use crate::features::{FEATURES, normalize_column_name};

/// The flavours of CICFlowMeter CSV NetVigil reads (plus captures, turned into flows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dialect {
    /// CICIDS2017 `MachineLearningCVE` CSVs: leading spaces, `Fwd Header Length` twice,
    /// no identifiers but `Destination Port`.
    MachineLearningCve,
    /// CICIDS2017 `GeneratedLabelledFlows`/`TrafficLabelling` CSVs: the same feature names
    /// plus `Flow ID`, `Source IP`, `Timestamp`, ...
    TrafficLabelling,
    /// The official CICFlowMeter's V3 header (`Init Win Bytes Fwd`, `Act Data Pkt Fwd`, ...).
    CicFlowMeterV3,
    /// The official CICFlowMeter-V4 short names (`Tot Fwd Pkts`, `Flow Byts/s`, ...).
    CicFlowMeterV4,
    /// The corrected CICIDS2017 of 2021 (Engelen et al.): `Total Fwd Packet`,
    /// `FWD Init Win Bytes`, extra RST/ICMP columns.
    Improved2021,
    /// Flows NetVigil extracted itself from a pcap/pcapng capture.
    Capture,
    /// A CSV written by NetVigil (`extract`, `convert`): canonical names plus `Source File`
    /// and `Source Line`.
    NetVigilExport,
}

/// Whose numbers a flow record holds: the 2017 CICFlowMeter's (first FIN ends a flow, RST
/// ignored, absolute active/idle times) or the corrected tool's. The same column can mean
/// different things under each, so a model says which it was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowSemantics {
    /// The 2017 CICFlowMeter and its later official releases (CICIDS2017 as published).
    Tool2017,
    /// The corrected CICFlowMeter (Engelen et al. 2021), and NetVigil's extractor by default.
    Corrected,
}

impl FlowSemantics {
    pub fn description(self) -> &'static str {
        match self {
            FlowSemantics::Tool2017 => "2017 CICFlowMeter",
            FlowSemantics::Corrected => "corrected CICFlowMeter",
        }
    }
}

impl Dialect {
    /// The semantics of this dialect's numbers. Captures are extracted in the corrected mode
    /// unless `--compat` says otherwise.
    pub fn semantics(self) -> FlowSemantics {
        match self {
            Dialect::MachineLearningCve
            | Dialect::TrafficLabelling
            | Dialect::CicFlowMeterV3
            | Dialect::CicFlowMeterV4 => FlowSemantics::Tool2017,
            Dialect::Improved2021 | Dialect::Capture | Dialect::NetVigilExport => FlowSemantics::Corrected,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Dialect::MachineLearningCve => "CICIDS2017 MachineLearningCVE",
            Dialect::TrafficLabelling => "CICIDS2017 TrafficLabelling (GeneratedLabelledFlows)",
            Dialect::CicFlowMeterV3 => "CICFlowMeter V3 header",
            Dialect::CicFlowMeterV4 => "CICFlowMeter-V4 short names",
            Dialect::Improved2021 => "corrected CICIDS2017 (Engelen et al. 2021)",
            Dialect::Capture => "packet capture (NetVigil extractor)",
            Dialect::NetVigilExport => "NetVigil extractor output",
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

/// Fewer recognised feature columns than this and the header is not CICFlowMeter output.
const MIN_RECOGNISED: usize = 36;

/// Picks the dialect whose spellings match most header columns. `None` when the header is
/// not CICFlowMeter output at all.
pub fn detect(header: &[String]) -> Option<Dialect> {
    let names: std::collections::HashSet<String> = header.iter().map(|h| normalize_column_name(h)).collect();
    let score = |pick: fn(&crate::features::FeatureSpec) -> &'static str| {
        FEATURES.iter().filter(|f| names.contains(&normalize_column_name(pick(f)))).count()
    };
    let candidates = [
        (score(|f| f.name), Dialect::MachineLearningCve),
        (score(|f| f.v3), Dialect::CicFlowMeterV3),
        (score(|f| f.v4), Dialect::CicFlowMeterV4),
        (score(|f| f.improved), Dialect::Improved2021),
    ];
    // Strictly greater keeps the earlier (older, more common) dialect on ties.
    let (best_score, best) =
        candidates.iter().copied().fold((0, None), |acc, (s, d)| if s > acc.0 { (s, Some(d)) } else { acc });
    if best_score < MIN_RECOGNISED {
        return None;
    }
    match best {
        // NetVigil's own export (`extract`, `convert` of a capture) writes the canonical names
        // plus where each flow came from; its numbers have the extractor's semantics, not the
        // 2017 tool's whose names it borrows.
        Some(Dialect::MachineLearningCve) if names.contains("source file") && names.contains("source line") => {
            Some(Dialect::NetVigilExport)
        }
        Some(Dialect::MachineLearningCve) if names.contains("flow id") => Some(Dialect::TrafficLabelling),
        other => other,
    }
}
