//! Alerts in the shape of Suricata's EVE JSON `alert` records, one JSON object per line, so a
//! SIEM that reads Suricata reads NetVigil's verdicts: timestamp, flow addresses and ports,
//! protocol, `alert` (signature = the family, severity from P(attack)), and NetVigil's own
//! fields (model, score, family, unfamiliar, source file and line) under `netvigil`.
//! CICFlowMeter timestamps carry no zone (they are the capture's local time); they are
//! written with offset +0000 as recorded, which the `netvigil.timestamp_zone` field says.

use serde_json::{Value, json};

use crate::ingest::FlowTable;
use crate::ingest::timestamp::format_timestamp;
use crate::model::BriefVerdict;

/// Signature ids: 9,100,000 + the family's index (a private range, as local Suricata rules use).
const SID_BASE: u64 = 9_100_000;

/// Suricata's severity: 1 (high) to 3 (low), from P(attack).
fn severity(p_attack: f32) -> u8 {
    if p_attack >= 0.99 {
        1
    } else if p_attack >= 0.9 {
        2
    } else {
        3
    }
}

fn protocol(p: Option<u8>) -> Value {
    match p {
        Some(6) => json!("TCP"),
        Some(17) => json!("UDP"),
        Some(1) => json!("ICMP"),
        Some(58) => json!("IPv6-ICMP"),
        Some(other) => json!(other.to_string()),
        None => Value::Null,
    }
}

/// The alerts of [`eve_alerts`] as JSON lines (what `predict --format eve` and the window's
/// export write); returns the text and the number of alerts.
pub fn eve_json_lines(
    table: &FlowTable,
    verdicts: &[BriefVerdict],
    model: &str,
) -> serde_json::Result<(String, usize)> {
    let alerts = eve_alerts(table, verdicts, model);
    let mut text = String::new();
    for a in &alerts {
        text.push_str(&serde_json::to_string(a)?);
        text.push('\n');
    }
    Ok((text, alerts.len()))
}

/// One EVE alert per flagged flow of `table`, in table order.
pub fn eve_alerts(table: &FlowTable, verdicts: &[BriefVerdict], model: &str) -> Vec<Value> {
    table
        .meta()
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| v.is_attack())
        .map(|(m, v)| {
            let timestamp = m.timestamp_us().map(|us| format!("{}+0000", format_timestamp(us).replace(' ', "T")));
            let source = table.sources.get(m.source as usize).map(|s| s.path.display().to_string());
            json!({
                "timestamp": timestamp,
                "event_type": "alert",
                "src_ip": m.src_ip().map(|a| a.to_string()),
                "src_port": m.src_port,
                "dest_ip": m.dst_ip().map(|a| a.to_string()),
                "dest_port": m.dst_port,
                "proto": protocol(m.protocol),
                "alert": {
                    "action": "allowed",
                    "gid": 1,
                    "signature_id": SID_BASE + v.family.index() as u64,
                    "rev": 1,
                    "signature": format!("NetVigil {} flow", v.family.name()),
                    "category": v.family.name(),
                    "severity": severity(v.p_attack),
                },
                "netvigil": {
                    "model": model,
                    "p_attack": v.p_attack,
                    "family": v.family.name(),
                    "unfamiliar": v.unfamiliar,
                    "flow_id": m.flow_id(),
                    "source_file": source,
                    "source_line": m.line,
                    "timestamp_zone": "as recorded (CICFlowMeter writes no zone)",
                },
            })
        })
        .collect()
}
