//! Alerts in the shape of Suricata's EVE JSON `alert` records, one JSON object per line, so a
//! SIEM that reads Suricata reads NetVigil's verdicts: timestamp, flow addresses and ports,
//! protocol, `alert` (signature = the family, severity from P(attack)), and NetVigil's own
//! fields (model, score, family, unfamiliar, source file and line, findings) under `netvigil`.
//! A flow is an alert when the model flags it or a host-level finding covers it (a scan's
//! one-packet probes, a scanner's requests that look like browsing): what the analyst sees
//! marked in the window is what the SIEM gets.
//! CICFlowMeter timestamps carry no zone (they are the capture's local time); they are
//! written with offset +0000 as recorded, which the `netvigil.timestamp_zone` field says.

use serde_json::{Value, json};

use crate::ingest::timestamp::format_timestamp;
use crate::ingest::{AttackFamily, FlowTable};
use crate::model::BriefVerdict;

/// Signature ids: 9,100,000 + the family's index (a private range, as local Suricata rules use)
/// for the model's alerts, and [`FINDING_SID_BASE`] + the family's index for a finding's.
const SID_BASE: u64 = 9_100_000;
const FINDING_SID_BASE: u64 = SID_BASE + 100;

/// Severity of an alert raised by a finding alone: medium, as a pattern over many flows, each
/// unremarkable to the model.
const FINDING_SEVERITY: u8 = 2;

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
    findings: &[String],
    model: &str,
) -> serde_json::Result<(String, usize)> {
    let alerts = eve_alerts(table, verdicts, findings, model);
    let mut text = String::new();
    for a in &alerts {
        text.push_str(&serde_json::to_string(a)?);
        text.push('\n');
    }
    Ok((text, alerts.len()))
}

/// One EVE alert per flow of `table` that the model flags or a finding covers, in table order.
/// `findings[r]` holds the labels of the findings row `r` is part of, comma-separated
/// (`Findings::per_flow`; empty, or shorter than the table, for none).
pub fn eve_alerts(table: &FlowTable, verdicts: &[BriefVerdict], findings: &[String], model: &str) -> Vec<Value> {
    let labels_of = |r: usize| -> Vec<&str> {
        findings.get(r).map_or_else(Vec::new, |l| l.split(',').filter(|s| !s.is_empty()).collect())
    };
    table
        .meta()
        .iter()
        .zip(verdicts)
        .enumerate()
        .filter_map(|(r, (m, v))| {
            let labels = labels_of(r);
            let (alerted_by, sid, signature, category, severity) = if v.is_attack() {
                (
                    "model",
                    SID_BASE + v.family.index() as u64,
                    format!("NetVigil {} flow", v.family.name()),
                    v.family.name().to_string(),
                    self::severity(v.p_attack),
                )
            } else {
                let label = *labels.first()?;
                let family = label.split(':').next().unwrap_or(label);
                let index = AttackFamily::from_name(family).map_or(0, AttackFamily::index);
                (
                    "finding",
                    FINDING_SID_BASE + index as u64,
                    format!("NetVigil finding {label}"),
                    family.to_string(),
                    FINDING_SEVERITY,
                )
            };
            let timestamp = m.timestamp_us().map(|us| format!("{}+0000", format_timestamp(us).replace(' ', "T")));
            let source = table.sources.get(m.source as usize).map(|s| s.path.display().to_string());
            Some(json!({
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
                    "signature_id": sid,
                    "rev": 1,
                    "signature": signature,
                    "category": category,
                    "severity": severity,
                },
                "netvigil": {
                    "model": model,
                    "p_attack": v.p_attack,
                    "family": v.family.name(),
                    "unfamiliar": v.unfamiliar,
                    "alerted_by": alerted_by,
                    "findings": labels,
                    "flow_id": m.flow_id(),
                    "source_file": source,
                    "source_line": m.line,
                    "timestamp_zone": "as recorded (CICFlowMeter writes no zone)",
                },
            }))
        })
        .collect()
}
