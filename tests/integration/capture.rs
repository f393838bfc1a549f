//! Capture extraction on the real captures in ../shared/data: every file (damaged ones
//! included), the official CICFlowMeter's reference flows, the extractor's options and
//! commands. Inputs damaged or re-encoded on purpose are in `capture_damage.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use netvigil::features::{FEATURES, N_FEATURES};
use netvigil::ingest::capture::{self, CaptureReport, Compat, ExtractOptions, FlowRecord, SkipReason};

use crate::common::shared;

pub(crate) fn extract(path: &Path, opts: &ExtractOptions) -> (Vec<FlowRecord>, CaptureReport) {
    capture::extract_file(path, opts, &mut capture::keep_going).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn corrected() -> ExtractOptions {
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

pub(crate) fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp capture");
    path
}

/// Feature vectors keyed by (first packet, src port, dst port) for order-independent equality.
pub(crate) fn by_first_packet(flows: &[FlowRecord]) -> HashMap<(u64, u16, u16), [f64; N_FEATURES]> {
    flows.iter().map(|f| ((f.first_packet, f.sport, f.dport), f.features)).collect()
}

// ------------------------------------------------------------------ every shared capture

#[test]
fn every_shared_capture_is_read_with_a_report() {
    let files = all_shared_captures();
    assert!(files.len() >= 22, "expected the shared captures, found {}", files.len());
    for path in &files {
        for compat in [Compat::Corrected, Compat::Cicids2017, Compat::CicFlowMeter4] {
            let opts = ExtractOptions::for_compat(compat);
            let (flows, report) = extract(path, &opts);
            let name = path.display();
            assert!(report.packets > 0, "{name}: no packets");
            assert!(!report.link_types.is_empty(), "{name}: no link type");
            assert_eq!(report.flows as usize, flows.len(), "{name}");
            assert!(report.packets_in_flows + report.packets_in_small_flows <= report.packets, "{name}: {report}");
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
                assert!(f.features.iter().all(|v| v.is_finite()), "{name}: non-finite feature");
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
    let (flows, report) = extract(&shared("pcaps/edge/pcapfix_test_damaged.pcap"), &corrected());
    let damaged = report.reasons.get(&SkipReason::DamagedRecord).expect("damage reported");
    assert!(damaged.count >= 1);
    assert_eq!(damaged.first_packet, 2, "first damaged record");
    assert_eq!(report.packets_in_flows, good_report.packets_in_flows, "{report}");
    assert_eq!(flows.len(), good.len());
}

#[test]
fn snap_length_cut_packet_keeps_its_headers() {
    let opts = ExtractOptions { min_packets: 1, ..corrected() };
    let (flows, report) = extract(&shared("pcaps/edge/dpkt_truncated_dns.pcap"), &opts);
    assert_eq!(report.count(SkipReason::CutBySnapLength), 1, "{report}");
    assert_eq!(flows.len(), 1);
    // The payload length comes from the IP header, not from the captured bytes.
    let captured = std::fs::metadata(shared("pcaps/edge/dpkt_truncated_dns.pcap")).expect("file").len();
    let fwd_bytes = flows[0].features[netvigil::features::FeatureId::TotalLenFwdPackets as usize];
    assert!(fwd_bytes > 0.0 && fwd_bytes < captured as f64 * 64.0);
}

#[test]
fn loopback_null_link_type_is_decoded() {
    let (flows, report) = extract(&shared("pcaps/edge/gopacket_test_loopback.pcap"), &corrected());
    assert_eq!(report.link_types, vec![0]);
    assert!(!flows.is_empty());
    assert_eq!(report.packets_in_flows, report.packets, "{report}");
}

#[test]
fn pcapng_byte_orders_give_identical_flows() {
    let (be, _) = extract(&shared("pcaps/edge/gopacket_pcapng_be_test001.pcapng"), &corrected());
    let (le, _) = extract(&shared("pcaps/edge/gopacket_pcapng_le_test001.pcapng"), &corrected());
    assert!(!be.is_empty());
    assert_eq!(by_first_packet(&be), by_first_packet(&le));
    assert_eq!(be.iter().map(|f| f.start_us).collect::<Vec<_>>(), le.iter().map(|f| f.start_us).collect::<Vec<_>>());
}

#[test]
fn pppoe_traffic_is_decoded() {
    let (flows, report) = extract(&shared("pcaps/edge/dpkt_nb6-http.pcap"), &corrected());
    assert!(flows.len() >= 5, "{report}");
    assert!(report.packets_in_flows > 40, "{report}");
}

#[test]
fn ipv6_and_icmp_flows_are_built() {
    let opts = ExtractOptions { min_packets: 1, ..corrected() };
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
        let header = lines.next().expect("header").split(',').map(|h| h.trim().to_string()).collect();
        let rows = lines.map(|l| l.split(',').map(|v| v.trim().to_string()).collect()).collect();
        Official { header, rows }
    }

    fn col(&self, spellings: &[&str]) -> Option<usize> {
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        spellings.iter().find_map(|s| self.header.iter().position(|h| norm(h) == norm(s)))
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
fn compare(ours: &[FlowRecord], official: &Official, offset_h: i64) -> (usize, [usize; N_FEATURES]) {
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
        &ExtractOptions { min_packets: 2, ..corrected() },
    );
    let official = Official::csv("cicflowmeter-reference/official-test/test.pcap_CIC.csv");
    let (matched, agreeing) = compare(&flows, &official, -3);
    // Flows that the first FIN split in two or three are one flow here (the teardown's last
    // ACKs and retransmissions stay in the connection's flow): every one of our flows is
    // an official flow's start, and what those extra packets cannot change agrees.
    assert_eq!(matched, flows.len());
    assert!(flows.len() >= 45 && flows.len() < 96, "ours {}", flows.len());
    use netvigil::features::FeatureId as F;
    for id in [F::InitWinBytesFwd, F::MinSegSizeFwd, F::ActDataPktFwd, F::FwdPacketLenMax] {
        assert_eq!(agreeing[id as usize], matched, "{:?}", id);
    }
    // Payload totals differ only where a segment was retransmitted after both FINs (one
    // flow: the official tool makes that retransmission a flow of its own).
    for id in [F::TotalLenFwdPackets, F::TotalLenBwdPackets] {
        assert!(agreeing[id as usize] + 1 >= matched, "{:?}: {}", id, agreeing[id as usize]);
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
    let text =
        std::fs::read_to_string(shared("cicflowmeter-reference/cicids2017-single-flow/sample.json")).expect("json");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&text).expect("json rows");
    let row = &rows[0];
    let flow = flows.iter().find(|f| f.sport == 49545 && f.dport == 443).expect("the sample flow");
    for (k, spec) in FEATURES.iter().enumerate() {
        let theirs = spec.spellings().iter().find_map(|s| row.get(*s)).and_then(|v| v.as_f64()).expect(spec.name);
        assert!(agree(flow.features[k], theirs), "{}: ours {} official {theirs}", spec.name, flow.features[k]);
    }
}

#[test]
fn flow_table_is_bounded_by_max_flows() {
    let opts = ExtractOptions { max_flows: 50, min_packets: 1, ..corrected() };
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
    let packets = |f: &FlowRecord| f.features[F::TotalFwdPackets as usize] + f.features[F::TotalBwdPackets as usize];
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
    let short = ExtractOptions { flow_timeout_us: 1_000_000, activity_timeout_us: 100_000, ..corrected() };
    let (split, _) = extract(&path, &short);
    assert!(split.len() > default.len(), "a 1 s flow timeout splits flows");
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
    let table = netvigil::ingest::read_flows(&[path.clone()], &netvigil::ingest::ReadOptions::default()).expect("read");
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
            let table = netvigil::ingest::read_flows(&[out.clone()], &netvigil::ingest::ReadOptions::default())
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

#[test]
fn a_capture_read_straight_into_a_table_equals_its_records_in_start_order() {
    // `extract_table` turns each flow into a table row as it finishes and sorts the rows in
    // place at the end; `extract_file` keeps the f64 records and sorts them. Flows finish in
    // another order than they start (long connections end late), so the rows move.
    let files = [
        shared("cicflowmeter-reference/official-test/test.pcap"),
        shared("pcaps/edge/esnet_two_way_all_flags.pcap"),
        crate::common::repo_data("captures/dos_slowloris.pcap"),
    ];
    for path in files {
        let file = path.display();
        for opts in [corrected(), ExtractOptions::for_compat(Compat::Cicids2017)] {
            let (records, report) = extract(&path, &opts);
            let (table, table_report) =
                capture::extract_table(&path, &opts, &mut capture::keep_going, None).expect("readable");
            let expected = capture::records_to_table(&path, &records, &report);
            assert!(records.len() > 20, "{file}: {} flows", records.len());
            assert_eq!(table.len(), records.len(), "{file}");
            assert_eq!((table_report.flows, report.flows), (records.len() as u64, records.len() as u64), "{file}");
            assert_eq!(table.meta(), expected.meta(), "{file}");
            assert_eq!(table.features(), expected.features(), "{file}");
            assert_eq!(table.sources[0].report.warnings, expected.sources[0].report.warnings, "{file}");
        }
    }
}

/// (fwd packets, bwd packets, fwd payload, bwd payload, fwd window) of a flow's features:
/// what tells a scan probe's shape (the responder's window is its operating system's: 29,200
/// on the 2017 testbed, 64,240 on this machine's kernel).
fn probe_shape(features: impl Fn(netvigil::features::FeatureId) -> f64) -> [i64; 5] {
    use netvigil::features::FeatureId as F;
    [F::TotalFwdPackets, F::TotalBwdPackets, F::TotalLenFwdPackets, F::TotalLenBwdPackets, F::InitWinBytesFwd]
        .map(|id| features(id) as i64)
}

#[test]
fn ethernet_padding_makes_a_veth_scan_read_as_the_original_release_s_scans() {
    use std::collections::HashSet;
    // The original release's port scans (the 2017 tool on the testbed's wire): nmap's
    // half-open probes of open ports and its probes of closed ones, as the release has them.
    let release = netvigil::ingest::read_flows(
        &[shared("cicids2017-original/TrafficLabelling_PortScan_1000.csv")],
        &netvigil::ingest::ReadOptions::default(),
    )
    .expect("read the release's port scans");
    let of_release: HashSet<[i64; 5]> =
        (0..release.len()).map(|i| probe_shape(|id| f64::from(release.row(i)[id as usize]))).collect();
    // nmap -sS over veth (open ports 21, 22, 53, 80): the frames were never on a wire.
    let scan = crate::common::repo_data("captures/portscan_nmap_syn.pcap");
    let shapes = |ethernet_padding: bool| -> HashSet<[i64; 5]> {
        let opts = ExtractOptions { ethernet_padding, ..ExtractOptions::for_compat(Compat::Cicids2017) };
        let (flows, _) = extract(&scan, &opts);
        flows.iter().map(|f| probe_shape(|id| f.features[id as usize])).collect()
    };
    let padded = shapes(true);
    // Open port: SYN with MSS option (58-byte frame, 2 bytes of padding) and RST (54, 6 bytes)
    // forward, the SYN-ACK with MSS (2 bytes) back; closed port: the SYN, then RST-ACK (6).
    let open = [2, 1, 8, 2, 1024];
    let closed = [1, 1, 2, 6, 1024];
    for shape in [open, closed] {
        assert!(of_release.contains(&shape), "the release has {shape:?}");
        assert!(padded.contains(&shape), "padded flows lack {shape:?}: {padded:?}");
    }
    // Unpadded, the same probes carry no payload, a shape the release never has.
    let bare = shapes(false);
    assert!(bare.contains(&[2, 1, 0, 0, 1024]) && !bare.contains(&open), "{bare:?}");
    assert!(!of_release.contains(&[2, 1, 0, 0, 1024]));
    // Off by default, and never in the corrected mode's defaults.
    assert!(!ExtractOptions::for_compat(Compat::Cicids2017).ethernet_padding);
    assert!(!corrected().ethernet_padding);
}
