//! Capture extraction on the real captures in ../shared/data: every file (damaged ones
//! included), the official CICFlowMeter's reference flows, and bad inputs derived from real
//! captures by truncating, corrupting, re-encoding and reordering them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use netvigil::features::{FEATURES, N_FEATURES};
use netvigil::ingest::capture::{
    self, CaptureReport, Compat, ExtractOptions, FlowRecord, SkipReason,
};

use crate::common::shared;

fn extract(path: &Path, opts: &ExtractOptions) -> (Vec<FlowRecord>, CaptureReport) {
    capture::extract_file(path, opts, &mut capture::keep_going)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn corrected() -> ExtractOptions {
    ExtractOptions::default()
}

fn all_shared_captures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "pcaps/normal",
        "pcaps/attacks",
        "pcaps/edge",
        "cicflowmeter-reference/official-test",
        "cicflowmeter-reference/cicids2017-single-flow",
    ] {
        for entry in std::fs::read_dir(shared(dir)).expect("shared data present") {
            let path = entry.expect("dir entry").path();
            if capture::is_capture(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp capture");
    path
}

/// Feature vectors keyed by (first packet, src port, dst port) for order-independent equality.
fn by_first_packet(flows: &[FlowRecord]) -> HashMap<(u64, u16, u16), [f64; N_FEATURES]> {
    flows
        .iter()
        .map(|f| ((f.first_packet, f.sport, f.dport), f.features))
        .collect()
}

// ------------------------------------------------------------------ every shared capture

#[test]
fn every_shared_capture_is_read_with_a_report() {
    let files = all_shared_captures();
    assert!(
        files.len() >= 22,
        "expected the shared captures, found {}",
        files.len()
    );
    for path in &files {
        for compat in [Compat::Corrected, Compat::Cicids2017, Compat::CicFlowMeter4] {
            let opts = ExtractOptions::for_compat(compat);
            let (flows, report) = extract(path, &opts);
            let name = path.display();
            assert!(report.packets > 0, "{name}: no packets");
            assert!(!report.link_types.is_empty(), "{name}: no link type");
            assert_eq!(report.flows as usize, flows.len(), "{name}");
            assert!(
                report.packets_in_flows + report.packets_in_small_flows <= report.packets,
                "{name}: {report}"
            );
            // Every output flow is in exactly one packet-count bucket; the default mode
            // leaves nothing out, the compat modes say what they leave out.
            assert_eq!(report.flows_by_packets.total(), report.flows, "{name}: {report}");
            assert_eq!(report.min_packets, opts.min_packets, "{name}");
            if compat == Compat::Corrected {
                assert_eq!(opts.min_packets, 1);
                assert_eq!((report.flows_left_out, report.packets_in_small_flows), (0, 0), "{name}: {report}");
            } else {
                assert_eq!(opts.min_packets, 2);
                assert_eq!(report.flows_by_packets.one, 0, "{name}: {report}");
                assert_eq!(report.left_out().is_some(), report.flows_left_out > 0, "{name}");
                assert_eq!(report.flows_left_out, report.packets_in_small_flows, "{name}: 1-packet flows");
            }
            for f in &flows {
                assert!(
                    f.features.iter().all(|v| v.is_finite()),
                    "{name}: non-finite feature"
                );
                assert!(f.features[0] >= 0.0, "{name}: negative duration");
                let n = f.features[netvigil::features::FeatureId::TotalFwdPackets as usize]
                    + f.features[netvigil::features::FeatureId::TotalBwdPackets as usize];
                assert!(n >= opts.min_packets as f64, "{name}: a flow below min_packets was output");
            }
            // The report serialises (the CLI writes it as JSON).
            let json = serde_json::to_string(&report).expect("report serialises");
            assert!(json.contains("\"packets\""));
        }
    }
}

#[test]
fn damaged_capture_is_resynchronised_and_loses_no_intact_packet() {
    let (good, good_report) = extract(&shared("pcaps/edge/pcapfix_test.pcap"), &corrected());
    let (flows, report) = extract(
        &shared("pcaps/edge/pcapfix_test_damaged.pcap"),
        &corrected(),
    );
    let damaged = report
        .reasons
        .get(&SkipReason::DamagedRecord)
        .expect("damage reported");
    assert!(damaged.count >= 1);
    assert_eq!(damaged.first_packet, 2, "first damaged record");
    assert_eq!(
        report.packets_in_flows, good_report.packets_in_flows,
        "{report}"
    );
    assert_eq!(flows.len(), good.len());
}

#[test]
fn snap_length_cut_packet_keeps_its_headers() {
    let opts = ExtractOptions {
        min_packets: 1,
        ..corrected()
    };
    let (flows, report) = extract(&shared("pcaps/edge/dpkt_truncated_dns.pcap"), &opts);
    assert_eq!(report.count(SkipReason::CutBySnapLength), 1, "{report}");
    assert_eq!(flows.len(), 1);
    // The payload length comes from the IP header, not from the captured bytes.
    let captured = std::fs::metadata(shared("pcaps/edge/dpkt_truncated_dns.pcap"))
        .expect("file")
        .len();
    let fwd_bytes = flows[0].features[netvigil::features::FeatureId::TotalLenFwdPackets as usize];
    assert!(fwd_bytes > 0.0 && fwd_bytes < captured as f64 * 64.0);
}

#[test]
fn loopback_null_link_type_is_decoded() {
    let (flows, report) = extract(
        &shared("pcaps/edge/gopacket_test_loopback.pcap"),
        &corrected(),
    );
    assert_eq!(report.link_types, vec![0]);
    assert!(!flows.is_empty());
    assert_eq!(report.packets_in_flows, report.packets, "{report}");
}

#[test]
fn pcapng_byte_orders_give_identical_flows() {
    let (be, _) = extract(
        &shared("pcaps/edge/gopacket_pcapng_be_test001.pcapng"),
        &corrected(),
    );
    let (le, _) = extract(
        &shared("pcaps/edge/gopacket_pcapng_le_test001.pcapng"),
        &corrected(),
    );
    assert!(!be.is_empty());
    assert_eq!(by_first_packet(&be), by_first_packet(&le));
    assert_eq!(
        be.iter().map(|f| f.start_us).collect::<Vec<_>>(),
        le.iter().map(|f| f.start_us).collect::<Vec<_>>()
    );
}

#[test]
fn pppoe_traffic_is_decoded() {
    let (flows, report) = extract(&shared("pcaps/edge/dpkt_nb6-http.pcap"), &corrected());
    assert!(flows.len() >= 5, "{report}");
    assert!(report.packets_in_flows > 40, "{report}");
}

#[test]
fn ipv6_and_icmp_flows_are_built() {
    let opts = ExtractOptions {
        min_packets: 1,
        ..corrected()
    };
    let (flows, _) = extract(&shared("pcaps/normal/hieulw_cicflowmeter_test.pcap"), &opts);
    assert!(flows.iter().any(|f| f.src.is_ipv6()), "IPv6 flows");
    let (flows, _) = extract(&shared("pcaps/edge/dpkt_dns_icmp.pcap"), &opts);
    assert!(flows.iter().any(|f| f.proto == 1), "ICMP flows");
    assert!(flows.iter().any(|f| f.proto == 17), "UDP flows");
}

// ------------------------------------------------------------------ the official outputs

/// Official CSV rows keyed by directed 5-tuple and start second (the file's clock, 12-hour).
struct Official {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Official {
    fn csv(rel: &str) -> Self {
        let text = std::fs::read_to_string(shared(rel)).expect("reference present");
        let mut lines = text.lines();
        let header = lines
            .next()
            .expect("header")
            .split(',')
            .map(|h| h.trim().to_string())
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(|v| v.trim().to_string()).collect())
            .collect();
        Official { header, rows }
    }

    fn col(&self, spellings: &[&str]) -> Option<usize> {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        spellings
            .iter()
            .find_map(|s| self.header.iter().position(|h| norm(h) == norm(s)))
    }
}

/// Seconds of the day on a 12-hour clock, for matching the official `hh:mm:ss` start times.
fn clock12(us: i64, offset_h: i64) -> i64 {
    (us.div_euclid(1_000_000) + offset_h * 3600).rem_euclid(43_200)
}

fn parse_clock12(ts: &str) -> Option<i64> {
    let time = ts.split_whitespace().nth(1)?;
    let mut it = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some((h % 12) * 3600 + m * 60 + s)
}

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) || (a - b).abs() < 1e-9
}

/// Matches every official row to one of our flows; returns per-feature agreement counts.
fn compare(
    ours: &[FlowRecord],
    official: &Official,
    offset_h: i64,
) -> (usize, [usize; N_FEATURES]) {
    let c = |names: &[&str]| official.col(names).expect("official column");
    let (sip, sp, dip, dp, pr, ts) = (
        c(&["Source IP", "Src IP"]),
        c(&["Source Port", "Src Port"]),
        c(&["Destination IP", "Dst IP"]),
        c(&["Destination Port", "Dst Port"]),
        c(&["Protocol"]),
        c(&["Timestamp"]),
    );
    let cols: Vec<usize> = FEATURES.iter().map(|f| c(&f.spellings())).collect();
    let mut used = vec![false; ours.len()];
    let mut matched = 0;
    let mut agreeing = [0usize; N_FEATURES];
    for row in &official.rows {
        let clock = parse_clock12(&row[ts]);
        let found = ours.iter().enumerate().position(|(i, f)| {
            !used[i]
                && f.src.to_string() == row[sip]
                && f.sport.to_string() == row[sp]
                && f.dst.to_string() == row[dip]
                && f.dport.to_string() == row[dp]
                && f.proto.to_string() == row[pr]
                && Some(clock12(f.start_us, offset_h)) == clock
        });
        let Some(i) = found else { continue };
        used[i] = true;
        matched += 1;
        for (k, &col) in cols.iter().enumerate() {
            let theirs: f64 = row[col].parse().unwrap_or(f64::NAN);
            if agree(ours[i].features[k], theirs) {
                agreeing[k] += 1;
            }
        }
    }
    (matched, agreeing)
}

#[test]
fn official_test_pcap_is_reproduced_in_cicids2017_mode() {
    let (flows, report) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &ExtractOptions::for_compat(Compat::Cicids2017),
    );
    let official = Official::csv("cicflowmeter-reference/official-test/test.pcap_CIC.csv");
    assert_eq!(official.rows.len(), 96);
    assert_eq!(flows.len(), 96, "{report}");
    // The official CSV prints local time (UTC-3 for this capture).
    let (matched, agreeing) = compare(&flows, &official, -3);
    assert_eq!(matched, 96);
    for (k, n) in agreeing.iter().enumerate() {
        assert_eq!(*n, 96, "{}: {n} of 96 flows agree", FEATURES[k].name);
    }
}

#[test]
fn corrected_mode_differs_from_the_official_tool_only_where_it_fixes_it() {
    // The official tool drops 1-packet flows and the default mode keeps them: compare like
    // with like (the 1-packet flows are checked in `single_packet_flows_*`).
    let (flows, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &ExtractOptions {
            min_packets: 2,
            ..corrected()
        },
    );
    let official = Official::csv("cicflowmeter-reference/official-test/test.pcap_CIC.csv");
    let (matched, agreeing) = compare(&flows, &official, -3);
    // Flows that the first FIN split in two or three are one flow here (the teardown's last
    // ACKs and retransmissions stay in the connection's flow): every one of our flows is
    // an official flow's start, and what those extra packets cannot change agrees.
    assert_eq!(matched, flows.len());
    assert!(
        flows.len() >= 45 && flows.len() < 96,
        "ours {}",
        flows.len()
    );
    use netvigil::features::FeatureId as F;
    for id in [
        F::InitWinBytesFwd,
        F::MinSegSizeFwd,
        F::ActDataPktFwd,
        F::FwdPacketLenMax,
    ] {
        assert_eq!(agreeing[id as usize], matched, "{:?}", id);
    }
    // Payload totals differ only where a segment was retransmitted after both FINs (one
    // flow: the official tool makes that retransmission a flow of its own).
    for id in [F::TotalLenFwdPackets, F::TotalLenBwdPackets] {
        assert!(
            agreeing[id as usize] + 1 >= matched,
            "{:?}: {}",
            id,
            agreeing[id as usize]
        );
    }
    // The 2017 tool reports one flag per flow; the corrected one counts them.
    assert!(agreeing[F::AckFlagCount as usize] < matched / 2);
}

#[test]
fn cicids2017_sample_flow_is_reproduced_in_cicflowmeter4_mode() {
    let (flows, _) = extract(
        &shared("cicflowmeter-reference/cicids2017-single-flow/sample.pcap"),
        &ExtractOptions::for_compat(Compat::CicFlowMeter4),
    );
    let text = std::fs::read_to_string(shared(
        "cicflowmeter-reference/cicids2017-single-flow/sample.json",
    ))
    .expect("json");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).expect("json rows");
    let row = &rows[0];
    let flow = flows
        .iter()
        .find(|f| f.sport == 49545 && f.dport == 443)
        .expect("the sample flow");
    for (k, spec) in FEATURES.iter().enumerate() {
        let theirs = spec
            .spellings()
            .iter()
            .find_map(|s| row.get(*s))
            .and_then(|v| v.as_f64())
            .expect(spec.name);
        assert!(
            agree(flow.features[k], theirs),
            "{}: ours {} official {theirs}",
            spec.name,
            flow.features[k]
        );
    }
}

#[test]
fn fuzz_regressions_do_not_panic() {
    // Inputs the fuzz target once crashed on (first byte: the mode, as in the target).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for compat in [Compat::Corrected, Compat::Cicids2017, Compat::CicFlowMeter4] {
            let opts = ExtractOptions {
                max_flows: 64,
                max_pending: 64,
                min_packets: 1,
                ..ExtractOptions::for_compat(compat)
            };
            if let Ok((flows, report)) = capture::extract_bytes(bytes[1..].to_vec(), &opts) {
                assert_eq!(report.flows as usize, flows.len());
            }
        }
        n += 1;
    }
    assert!(n >= 1);
}

// ------------------------------------------------------------------ derived bad inputs

fn test_pcap_bytes() -> Vec<u8> {
    std::fs::read(shared("cicflowmeter-reference/official-test/test.pcap")).expect("test.pcap")
}

/// Offsets of the record headers of a little-endian pcap.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        offsets.push(at);
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        at += 16 + incl;
    }
    offsets
}

#[test]
fn truncated_captures_never_panic_and_report_the_cut() {
    let bytes = test_pcap_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    let offsets = record_offsets(&bytes);
    // Cut inside a record header, inside packet data, and at odd places near the start.
    let cuts = [
        offsets[1000] + 7,
        offsets[2000] + 30,
        25,
        40,
        bytes.len() - 1,
    ];
    for cut in cuts {
        let path = write_temp(&dir, &format!("cut{cut}.pcap"), &bytes[..cut]);
        let (_, report) = extract(&path, &corrected());
        assert_eq!(
            report.count(SkipReason::TruncatedRecord),
            1,
            "cut at {cut}: {report}"
        );
    }
    // A file shorter than its own header is an error, not a panic.
    let path = write_temp(&dir, "tiny.pcap", &bytes[..10]);
    assert!(capture::extract_file(&path, &corrected(), &mut capture::keep_going).is_err());
}

#[test]
fn absurd_and_zero_lengths_are_skipped_and_reading_resumes() {
    let mut bytes = test_pcap_bytes();
    let offsets = record_offsets(&bytes);
    let absurd = offsets[500];
    bytes[absurd + 8..absurd + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let zero = offsets[1500];
    // Zero captured length: the record's data then reads as the next header, which is damage
    // the reader must also survive.
    bytes[zero + 8..zero + 12].copy_from_slice(&0u32.to_le_bytes());
    // Zero original length: that record alone is skipped.
    let zero_orig = offsets[2500];
    bytes[zero_orig + 12..zero_orig + 16].copy_from_slice(&0u32.to_le_bytes());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(&dir, "damaged.pcap", &bytes);
    let (flows, report) = extract(&path, &corrected());
    let damaged = report
        .reasons
        .get(&SkipReason::DamagedRecord)
        .expect("damage reported");
    assert_eq!(damaged.first_packet, 501, "{report}");
    assert!(report.count(SkipReason::ZeroLength) >= 2, "{report}");
    assert!(
        report.reasons[&SkipReason::ZeroLength].first_packet < 2500,
        "{report}"
    );
    // Nearly all of the 3,292 packets still reach their flows.
    assert!(
        report.packets_in_flows + report.packets_in_small_flows > 3200,
        "{report}"
    );
    assert!(flows.len() >= 40);
}

#[test]
fn garbage_after_the_header_does_not_hang() {
    let bytes = test_pcap_bytes();
    let mut garbage = bytes[..24].to_vec();
    // Real packet bytes without their record headers: nothing plausible to resync on.
    garbage.extend(bytes[5000..200_000].iter().map(|b| b ^ 0x5a));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(&dir, "garbage.pcap", &garbage);
    let (_, report) = extract(&path, &corrected());
    assert!(
        report.count(SkipReason::DamagedRecord) + report.count(SkipReason::TruncatedRecord) >= 1,
        "{report}"
    );
}

/// Splits record `i` of test.pcap (Ethernet/IPv4/TCP with payload) into two IPv4 fragments;
/// `swap` writes the second fragment first.
fn fragment_record(bytes: &[u8], i: usize, swap: bool) -> Vec<u8> {
    let offsets = record_offsets(bytes);
    let at = offsets[i];
    let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4")) as usize;
    let frame = &bytes[at + 16..at + 16 + incl];
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let ip_total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let l4 = &frame[14 + ihl..14 + ip_total];
    let first_len = 24; // a multiple of 8 that cuts into the TCP payload
    let fragment = |part: &[u8], offset_units: u16, more: bool| {
        let mut f = frame[..14 + ihl].to_vec();
        f[16..18].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
        let flags = offset_units | if more { 0x2000 } else { 0 };
        f[20..22].copy_from_slice(&flags.to_be_bytes());
        f.extend(part);
        let mut rec = bytes[at..at + 8].to_vec();
        rec.extend((f.len() as u32).to_le_bytes());
        rec.extend((f.len() as u32).to_le_bytes());
        rec.extend(f);
        rec
    };
    let one = fragment(&l4[..first_len], 0, true);
    let two = fragment(&l4[first_len..], (first_len / 8) as u16, false);
    let mut out = bytes[..at].to_vec();
    if swap {
        out.extend(two);
        out.extend(one);
    } else {
        out.extend(one);
        out.extend(two);
    }
    out.extend(&bytes[offsets.get(i + 1).copied().unwrap_or(bytes.len())..]);
    out
}

#[test]
fn ip_fragments_are_counted_into_their_flow() {
    let bytes = test_pcap_bytes();
    let offsets = record_offsets(&bytes);
    // A TCP segment with more than 24 bytes of transport data (header included).
    let i = (0..offsets.len())
        .find(|&i| {
            let f = &bytes[offsets[i] + 16..];
            f[12..14] == [0x08, 0x00] && f[23] == 6 && u16::from_be_bytes([f[16], f[17]]) > 200
        })
        .expect("a TCP data packet");
    let key = |v: &[FlowRecord]| -> HashMap<(i64, u16, u16), [f64; N_FEATURES]> {
        v.iter()
            .map(|f| ((f.start_us, f.sport, f.dport), f.features))
            .collect()
    };
    let (reference, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &corrected(),
    );
    let reference = key(&reference);
    let dir = tempfile::tempdir().expect("tempdir");
    let (flows, report) = extract(
        &write_temp(&dir, "frag.pcap", &fragment_record(&bytes, i, false)),
        &corrected(),
    );
    assert_eq!(report.count(SkipReason::OrphanFragment), 0, "{report}");
    let flows = key(&flows);
    use netvigil::features::FeatureId as F;
    let mut changed = 0;
    for (k, ours) in &flows {
        let theirs = reference.get(k).expect("same flows");
        if ours != theirs {
            changed += 1;
            // Same payload bytes, one more packet: the second fragment counts into the flow.
            let total = |v: &[f64; N_FEATURES]| {
                v[F::TotalLenFwdPackets as usize] + v[F::TotalLenBwdPackets as usize]
            };
            let packets = |v: &[f64; N_FEATURES]| {
                v[F::TotalFwdPackets as usize] + v[F::TotalBwdPackets as usize]
            };
            assert_eq!(total(ours), total(theirs));
            assert_eq!(packets(ours), packets(theirs) + 1.0);
        }
    }
    assert_eq!((flows.len(), changed), (reference.len(), 1));
    // A fragment whose first fragment never came is reported.
    let (_, report) = extract(
        &write_temp(&dir, "orphan.pcap", &fragment_record(&bytes, i, true)),
        &corrected(),
    );
    assert_eq!(report.count(SkipReason::OrphanFragment), 1, "{report}");
}

/// Offsets of the blocks of a little-endian pcapng.
fn block_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        if len < 12 {
            break;
        }
        at += len;
    }
    offsets
}

#[test]
fn damaged_pcapng_blocks_are_skipped_and_reported() {
    let original = std::fs::read(shared("pcaps/normal/http_google.pcapng")).expect("capture");
    let blocks = block_offsets(&original);
    assert_eq!(blocks.len(), 14, "section, interface, 12 packets");
    let dir = tempfile::tempdir().expect("tempdir");
    // 1. A packet block whose trailing length disagrees: skipped, the rest read.
    let mut bytes = original.clone();
    let trailer = blocks[5] - 4;
    bytes[trailer..trailer + 4].copy_from_slice(&7u32.to_le_bytes());
    let (_, report) = extract(&write_temp(&dir, "trailer.pcapng", &bytes), &corrected());
    assert_eq!(
        report.reasons[&SkipReason::DamagedBlock].first_packet,
        3,
        "{report}"
    );
    assert_eq!(report.packets, 11, "{report}");
    // 2. An absurd block length: the reader scans to the next well-formed block.
    let mut bytes = original.clone();
    bytes[blocks[6] + 4..blocks[6] + 8].copy_from_slice(&0xfff0_0000u32.to_le_bytes());
    let (_, report) = extract(&write_temp(&dir, "absurd.pcapng", &bytes), &corrected());
    assert_eq!(report.count(SkipReason::DamagedBlock), 1, "{report}");
    assert_eq!(report.packets, 11, "{report}");
    // 3. A packet for an interface that was never described.
    let mut bytes = original.clone();
    bytes[blocks[7] + 8..blocks[7] + 12].copy_from_slice(&5u32.to_le_bytes());
    let (_, report) = extract(&write_temp(&dir, "iface.pcapng", &bytes), &corrected());
    assert_eq!(report.count(SkipReason::DamagedBlock), 1, "{report}");
    assert_eq!(report.packets, 11, "{report}");
    // 4. Cut in the middle of the last block.
    let (_, report) = extract(
        &write_temp(&dir, "cut.pcapng", &original[..original.len() - 100]),
        &corrected(),
    );
    assert_eq!(report.count(SkipReason::TruncatedRecord), 1, "{report}");
    assert_eq!(report.packets, 12, "{report}");
}

/// Rewrites a little-endian microsecond pcap as big-endian and/or nanosecond.
fn reencode(bytes: &[u8], big_endian: bool, nanos: bool) -> Vec<u8> {
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend(if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let mut out = Vec::with_capacity(bytes.len());
    put(&mut out, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
    let version = if big_endian {
        [0, 2, 0, 4]
    } else {
        [2, 0, 4, 0]
    };
    out.extend(version);
    for at in [8, 12, 16, 20] {
        put(&mut out, u32_at(bytes, at));
    }
    for at in record_offsets(bytes) {
        let incl = u32_at(bytes, at + 8);
        put(&mut out, u32_at(bytes, at));
        let frac = u32_at(bytes, at + 4);
        put(&mut out, if nanos { frac * 1000 + 999 } else { frac });
        put(&mut out, incl);
        put(&mut out, u32_at(bytes, at + 12));
        out.extend(&bytes[at + 16..at + 16 + incl as usize]);
    }
    out
}

#[test]
fn byte_order_nanoseconds_and_gzip_give_identical_flows() {
    let bytes = test_pcap_bytes();
    let (reference, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &corrected(),
    );
    let reference = by_first_packet(&reference);
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, data) in [
        ("be.pcap", reencode(&bytes, true, false)),
        ("ns.pcap", reencode(&bytes, false, true)),
        ("be-ns.pcap", reencode(&bytes, true, true)),
    ] {
        let path = write_temp(&dir, name, &data);
        assert!(capture::is_capture(&path));
        let (flows, report) = extract(&path, &corrected());
        assert_eq!(by_first_packet(&flows), reference, "{name}: {report}");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).expect("gzip");
    let path = write_temp(&dir, "test.pcap.gz", &gz.finish().expect("gzip"));
    assert!(capture::is_capture(&path));
    let (flows, report) = extract(&path, &corrected());
    assert_eq!(report.format, "pcap+gzip");
    assert_eq!(by_first_packet(&flows), reference);
    // A gzip file that holds no capture is not taken for one.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"Flow ID,Source IP\n").expect("gzip");
    let path = write_temp(&dir, "flows.csv.gz", &gz.finish().expect("gzip"));
    assert!(!capture::is_capture(&path));
}

/// Rewrites test.pcap's Ethernet frames under another link-layer header: `link` is the new
/// LINKTYPE, `header(ethertype)` the bytes that replace the 14-byte Ethernet header.
fn relink(bytes: &[u8], link: u32, header: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let mut out = bytes[..20].to_vec();
    out.extend(link.to_le_bytes());
    for at in record_offsets(bytes) {
        let incl = u32_at(at + 8) as usize;
        let frame = &bytes[at + 16..at + 16 + incl];
        let new_header = header(frame);
        let delta = new_header.len() as i64 - 14;
        out.extend(&bytes[at..at + 8]);
        out.extend(((incl as i64 + delta) as u32).to_le_bytes());
        out.extend(((u32_at(at + 12) as i64 + delta) as u32).to_le_bytes());
        out.extend(new_header);
        out.extend(&frame[14..]);
    }
    out
}

#[test]
fn every_link_type_gives_the_same_flows() {
    let bytes = test_pcap_bytes();
    let (reference, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &corrected(),
    );
    let reference = by_first_packet(&reference);
    let ethertype = |f: &[u8]| [f[12], f[13]];
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("raw", relink(&bytes, 101, |_| Vec::new())),
        ("ipv4-raw", relink(&bytes, 228, |_| Vec::new())),
        ("null", relink(&bytes, 0, |_| 2u32.to_le_bytes().to_vec())),
        ("loop", relink(&bytes, 108, |_| 2u32.to_be_bytes().to_vec())),
        (
            "sll",
            relink(&bytes, 113, |f| {
                let mut h = vec![0, 0, 0, 1, 0, 6];
                h.extend(&f[6..12]);
                h.extend([0, 0]);
                h.extend(ethertype(f));
                h
            }),
        ),
        (
            "sll2",
            relink(&bytes, 276, |f| {
                let mut h = ethertype(f).to_vec();
                h.extend([0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
                h.extend(&f[6..12]);
                h.extend([0, 0]);
                h
            }),
        ),
        (
            "vlan",
            relink(&bytes, 1, |f| {
                let mut h = f[..12].to_vec();
                h.extend([0x81, 0x00, 0x00, 0x2a]);
                h.extend(ethertype(f));
                h
            }),
        ),
        (
            "qinq",
            relink(&bytes, 1, |f| {
                let mut h = f[..12].to_vec();
                h.extend([0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x2a]);
                h.extend(ethertype(f));
                h
            }),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, data) in variants {
        let path = write_temp(&dir, &format!("{name}.pcap"), &data);
        let (flows, report) = extract(&path, &corrected());
        assert_eq!(by_first_packet(&flows), reference, "{name}: {report}");
    }
    // An unknown link type is reported, packet by packet, without a panic.
    let path = write_temp(
        &dir,
        "user0.pcap",
        &relink(&bytes, 147, |f| f[..14].to_vec()),
    );
    let (flows, report) = extract(&path, &corrected());
    assert!(flows.is_empty());
    assert_eq!(report.count(SkipReason::UnknownLinkType), 3292, "{report}");
    assert_eq!(report.reasons[&SkipReason::UnknownLinkType].first_packet, 1);
}

/// A pcapng block: type, body padded to 4 bytes, lengths around it (little-endian).
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend(total.to_le_bytes());
    b.extend(body);
    b.resize(8 + padded, 0);
    b.extend(total.to_le_bytes());
    b
}

#[test]
fn pcapng_with_two_interfaces_resolutions_and_simple_blocks() {
    let bytes = test_pcap_bytes();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let mut ng = block(
        0x0A0D_0D0A,
        &[
            0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    // Interface 0: Ethernet, default microseconds. Interface 1: raw IP, nanoseconds (tsresol 9).
    ng.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
    ng.extend(block(
        1,
        &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
    ));
    for (i, at) in record_offsets(&bytes).into_iter().enumerate() {
        let us = u64::from(u32_at(at)) * 1_000_000 + u64::from(u32_at(at + 4));
        let incl = u32_at(at + 8) as usize;
        let frame = &bytes[at + 16..at + 16 + incl];
        let (iface, ticks, data) = if i % 2 == 0 {
            (0u32, us, frame)
        } else {
            (1, us * 1000, &frame[14..])
        };
        let mut body = iface.to_le_bytes().to_vec();
        body.extend(((ticks >> 32) as u32).to_le_bytes());
        body.extend((ticks as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        ng.extend(block(6, &body));
    }
    // A simple packet block (interface 0, no timestamp) repeating the last frame's bytes.
    let last = *record_offsets(&bytes).last().expect("records");
    let frame = &bytes[last + 16..last + 16 + u32_at(last + 8) as usize];
    let mut spb = (frame.len() as u32).to_le_bytes().to_vec();
    spb.extend(frame);
    ng.extend(block(3, &spb));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(&dir, "two-ifaces.pcapng", &ng);
    let (flows, report) = extract(
        &path,
        &ExtractOptions {
            drop_duplicates: false,
            ..corrected()
        },
    );
    assert_eq!(report.format, "pcapng");
    assert_eq!(report.link_types, vec![1, 101]);
    assert_eq!(report.packets, 3293);
    assert_eq!(report.count(SkipReason::NoTimestamp), 1);
    assert_eq!(
        report.count(SkipReason::Duplicate),
        1,
        "the simple block repeats the last packet at its time"
    );
    let (reference, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &corrected(),
    );
    assert_eq!(flows.len(), reference.len());
    let starts = |v: &[FlowRecord]| {
        v.iter()
            .map(|f| (f.start_us, f.first_packet))
            .collect::<Vec<_>>()
    };
    assert_eq!(starts(&flows), starts(&reference));
}

#[test]
fn swapped_packets_are_reordered_and_duplicates_counted() {
    let bytes = test_pcap_bytes();
    let offsets = record_offsets(&bytes);
    let record = |i: usize| &bytes[offsets[i]..offsets.get(i + 1).copied().unwrap_or(bytes.len())];
    // Find two neighbours less than the reordering window apart and swap them.
    let ts = |i: usize| {
        let r = record(i);
        i64::from(u32::from_le_bytes(r[0..4].try_into().expect("4"))) * 1_000_000
            + i64::from(u32::from_le_bytes(r[4..8].try_into().expect("4")))
    };
    let i = (100..offsets.len() - 1)
        .find(|&i| ts(i + 1) - ts(i) > 0 && ts(i + 1) - ts(i) < 50_000)
        .expect("close pair");
    let mut swapped = bytes[..offsets[i]].to_vec();
    swapped.extend(record(i + 1));
    swapped.extend(record(i));
    swapped.extend(&bytes[offsets[i + 2]..]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(&dir, "swapped.pcap", &swapped);
    let (flows, report) = extract(&path, &corrected());
    assert_eq!(report.count(SkipReason::Reordered), 1, "{report}");
    let (reference, _) = extract(
        &shared("cicflowmeter-reference/official-test/test.pcap"),
        &corrected(),
    );
    let features = |v: &[FlowRecord]| {
        v.iter()
            .map(|f| f.features.map(f64::to_bits))
            .collect::<Vec<_>>()
    };
    assert_eq!(features(&flows), features(&reference));

    // The same record twice in a row is a duplicate: counted and dropped.
    let mut doubled = bytes[..offsets[i + 1]].to_vec();
    doubled.extend(record(i));
    doubled.extend(&bytes[offsets[i + 1]..]);
    let path = write_temp(&dir, "doubled.pcap", &doubled);
    let (flows, report) = extract(&path, &corrected());
    assert_eq!(report.count(SkipReason::Duplicate), 1, "{report}");
    assert_eq!(features(&flows), features(&reference));
}

#[test]
fn flow_table_is_bounded_by_max_flows() {
    let opts = ExtractOptions {
        max_flows: 50,
        min_packets: 1,
        ..corrected()
    };
    let (flows, report) = extract(&shared("pcaps/attacks/synscan.pcapng"), &opts);
    assert!(report.count(SkipReason::FlowEvicted) > 0, "{report}");
    assert!(report.peak_active_flows <= 51, "{report}");
    // Every packet still lands in exactly one output flow.
    assert_eq!(report.packets_in_flows, report.packets, "{report}");
    assert!(flows.len() > 1000);
}

#[test]
fn single_packet_flows_of_a_syn_scan_are_output_in_the_default_mode() {
    use netvigil::features::FeatureId as F;
    let path = shared("pcaps/attacks/synscan.pcapng");
    let (flows, report) = extract(&path, &corrected());
    let packets = |f: &FlowRecord| {
        f.features[F::TotalFwdPackets as usize] + f.features[F::TotalBwdPackets as usize]
    };
    // Measured: nmap's SYN probes that got no answer are flows of one packet each; every
    // packet of the capture is in an output flow.
    assert_eq!(report.packets_in_flows, report.packets, "{report}");
    assert_eq!(report.flows_left_out, 0, "{report}");
    assert_eq!(report.flows_by_packets.one, 1986, "{report}");
    let singles: Vec<&FlowRecord> = flows.iter().filter(|f| packets(f) == 1.0).collect();
    assert_eq!(singles.len() as u64, report.flows_by_packets.one);
    let scanner: std::net::IpAddr = "172.16.0.8".parse().expect("address");
    let target: std::net::IpAddr = "64.13.134.52".parse().expect("address");
    for f in &singles {
        assert_eq!((f.src, f.dst, f.proto), (scanner, target, 6), "a probe of the scan");
        assert_eq!(f.features[F::SynFlagCount as usize], 1.0, "a SYN");
        assert_eq!(f.features[F::FlowDuration as usize], 0.0);
        assert!(f.features.iter().all(|v| v.is_finite()));
    }
    let ports: std::collections::HashSet<u16> = singles.iter().map(|f| f.dport).collect();
    assert!(ports.len() > 900, "{} distinct ports probed", ports.len());

    // The official tool's mode leaves them out, and says so.
    let (official, left) = extract(&path, &ExtractOptions::for_compat(Compat::Cicids2017));
    assert_eq!(left.flows_by_packets.one, 0, "{left}");
    assert!(left.flows_left_out >= 1900, "{left}");
    assert!(official.iter().all(|f| packets(f) >= 2.0));
    assert!(left.to_string().contains("not output"), "{left}");

    // `netvigil extract` prints the buckets and what a compat mode leaves out, and writes
    // both to the JSON report.
    let dir = tempfile::tempdir().expect("tempdir");
    for (compat, expect) in [("corrected", "flows by packets: 1: 1986"), ("cicids2017", "left out: ")] {
        let json = dir.path().join(format!("{compat}.json"));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_netvigil"))
            .args(["extract", "--quiet", "--compat", compat, "--report"])
            .arg(&json)
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join(format!("{compat}.csv")))
            .output()
            .expect("run netvigil");
        assert!(output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expect), "{compat}: {stderr}");
        let json = std::fs::read_to_string(&json).expect("report written");
        assert!(json.contains("\"flows_by_packets\""), "{json}");
    }
}

#[test]
fn timeouts_are_options() {
    let path = shared("cicflowmeter-reference/official-test/test.pcap");
    let (default, _) = extract(&path, &corrected());
    let short = ExtractOptions {
        flow_timeout_us: 1_000_000,
        activity_timeout_us: 100_000,
        ..corrected()
    };
    let (split, _) = extract(&path, &short);
    assert!(
        split.len() > default.len(),
        "a 1 s flow timeout splits flows"
    );
    let idle = netvigil::features::FeatureId::IdleMean as usize;
    assert!(
        split.iter().filter(|f| f.features[idle] > 0.0).count()
            > default.iter().filter(|f| f.features[idle] > 0.0).count()
    );
}

// ------------------------------------------------------------------ ingest and CLI

#[test]
fn read_flows_takes_captures_like_csvs() {
    let path = shared("cicflowmeter-reference/official-test/test.pcap");
    let table =
        netvigil::ingest::read_flows(&[path.clone()], &netvigil::ingest::ReadOptions::default())
            .expect("read");
    let (flows, _) = extract(&path, &corrected());
    assert_eq!(table.len(), flows.len());
    assert_eq!(table.sources[0].dialect, netvigil::ingest::Dialect::Capture);
    let first = &table.meta()[0];
    assert_eq!(first.line, flows[0].first_packet);
    assert_eq!(first.timestamp_us(), Some(flows[0].start_us));
    assert_eq!(table.row(0)[0], flows[0].features[0] as f32);
}

#[test]
fn extract_command_writes_csv_and_parquet_that_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = shared("cicflowmeter-reference/official-test/test.pcap");
    for out in ["flows.csv", "flows.parquet"] {
        let out = dir.path().join(out);
        let report = dir.path().join("report.json");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_netvigil"))
            .args(["extract", "--quiet", "--compat", "cicids2017", "--report"])
            .arg(&report)
            .arg(&capture)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("run netvigil");
        assert!(status.success());
        let json = std::fs::read_to_string(&report).expect("report written");
        assert!(json.contains("\"packets\": 3292"), "{json}");
        if out.extension().is_some_and(|e| e == "csv") {
            let table = netvigil::ingest::read_flows(
                &[out.clone()],
                &netvigil::ingest::ReadOptions::default(),
            )
            .expect("read back");
            assert_eq!(table.len(), 96);
        } else {
            assert!(std::fs::metadata(&out).expect("parquet written").len() > 1000);
        }
    }
    // A damaged capture is extracted too (exit status 0), its damage in the report.
    let out = dir.path().join("damaged.csv");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["extract", "--quiet"])
        .arg(shared("pcaps/edge/pcapfix_test_damaged.pcap"))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run netvigil");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("damaged record header"));
}
