//! Relations CICFlowMeter features obey by construction. An edited flow that breaks one is
//! still scored (what-if questions may ask exactly that), but the analyst is warned.

use super::FeatureId as F;
use super::N_FEATURES;

/// Relative tolerance for derived values (CICFlowMeter rounds rates and means).
const TOLERANCE: f32 = 0.01;

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1.0)
}

/// A relation a flow breaks.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// Which relation (stable, for comparing an edited flow with its original).
    pub relation: &'static str,
    pub message: String,
}

/// The relations `edited` breaks that `original` did not (real CICFlowMeter output breaks
/// some of them itself; only what the edit broke is news).
pub fn new_warnings(original: &[f32; N_FEATURES], edited: &[f32; N_FEATURES]) -> Vec<Warning> {
    let before = check(original);
    check(edited).into_iter().filter(|w| !before.iter().any(|b| b.relation == w.relation)).collect()
}

/// The relations `row` breaks.
pub fn check(row: &[f32; N_FEATURES]) -> Vec<Warning> {
    let v = |f: F| row[f as usize];
    let mut out = Vec::new();
    let mut ordered = |name: &'static str, min: F, mean: F, max: F| {
        if !(v(min) <= v(mean) + 1e-3 && v(mean) <= v(max) + 1e-3) {
            out.push(Warning {
                relation: name,
                message: format!("{name}: min <= mean <= max does not hold ({} / {} / {})", v(min), v(mean), v(max)),
            });
        }
    };
    ordered("Fwd Packet Length", F::FwdPacketLenMin, F::FwdPacketLenMean, F::FwdPacketLenMax);
    ordered("Bwd Packet Length", F::BwdPacketLenMin, F::BwdPacketLenMean, F::BwdPacketLenMax);
    ordered("Packet Length", F::PacketLenMin, F::PacketLenMean, F::PacketLenMax);
    ordered("Flow IAT", F::FlowIatMin, F::FlowIatMean, F::FlowIatMax);
    ordered("Fwd IAT", F::FwdIatMin, F::FwdIatMean, F::FwdIatMax);
    ordered("Bwd IAT", F::BwdIatMin, F::BwdIatMean, F::BwdIatMax);
    ordered("Active", F::ActiveMin, F::ActiveMean, F::ActiveMax);
    ordered("Idle", F::IdleMin, F::IdleMean, F::IdleMax);
    let seconds = v(F::FlowDuration) / 1e6;
    let packets = v(F::TotalFwdPackets) + v(F::TotalBwdPackets);
    let bytes = v(F::TotalLenFwdPackets) + v(F::TotalLenBwdPackets);
    // (feature, what it should equal, from what, whether it can be computed)
    let derived = [
        (F::FlowPacketsPerSec, packets / seconds, "the packet counts and duration", seconds > 0.0),
        (F::FlowBytesPerSec, bytes / seconds, "the byte totals and duration", seconds > 0.0),
        (
            F::FwdPacketLenMean,
            v(F::TotalLenFwdPackets) / v(F::TotalFwdPackets),
            "total length / packets",
            v(F::TotalFwdPackets) > 0.0,
        ),
    ];
    for (feature, expected, source, defined) in derived {
        if defined && !close(v(feature), expected) {
            let name = super::FEATURES[feature as usize].name;
            out.push(Warning {
                relation: name,
                message: format!("{name} is {} but {source} give {expected:.3}", v(feature)),
            });
        }
    }
    if v(F::FwdIatTotal) > v(F::FlowDuration) + 1.0 || v(F::BwdIatTotal) > v(F::FlowDuration) + 1.0 {
        out.push(Warning { relation: "IAT Total", message: "Fwd/Bwd IAT Total exceed the Flow Duration".into() });
    }
    if v(F::ActDataPktFwd) > v(F::TotalFwdPackets) {
        out.push(Warning {
            relation: "act_data_pkt_fwd",
            message: "act_data_pkt_fwd exceeds Total Fwd Packets".into(),
        });
    }
    out
}
