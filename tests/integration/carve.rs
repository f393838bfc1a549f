//! The packets behind flows (`ingest::capture::carve`, `netvigil carve`): carved from real
//! captures, the new pcap must hold exactly the chosen flows' packets, so extracting it again
//! gives the same flows with the same 72 features.

use std::path::Path;
use std::process::Command;

use netvigil::features::FeatureId;
use netvigil::ingest::capture::carve::{FlowWindow, carve};
use netvigil::ingest::capture::{ExtractOptions, read_capture};
use netvigil::ingest::table::FlowTable;

use super::common::{repo_data, shared};

fn packets(table: &FlowTable, i: usize) -> u64 {
    let row = table.row(i);
    (row[FeatureId::TotalFwdPackets as usize] + row[FeatureId::TotalBwdPackets as usize]) as u64
}

/// The row of `table` whose flow has this id and start time.
fn find(table: &FlowTable, id: &str, start: Option<i64>) -> usize {
    table
        .meta()
        .iter()
        .position(|m| m.flow_id().as_deref() == Some(id) && m.timestamp_us() == start)
        .expect("carved flow found again")
}

fn carve_and_reextract(capture: &Path, rows: &[usize]) {
    let (table, _) = read_capture(capture, &ExtractOptions::default()).unwrap();
    let windows: Vec<FlowWindow> =
        rows.iter().map(|&i| FlowWindow::of_row(&table, i).expect("capture rows have tuples")).collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("carved.pcap");
    let report = carve(capture, &windows, &out).unwrap();
    let want: u64 = rows.iter().map(|&i| packets(&table, i)).sum();
    assert_eq!(report.frames_written, want, "{}: the chosen flows' packets, no more, no fewer", capture.display());
    let (again, _) = read_capture(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(again.len(), rows.len(), "{}: one flow per chosen flow", capture.display());
    for &i in rows {
        let m = &table.meta()[i];
        let j = find(&again, &m.flow_id().unwrap(), m.timestamp_us());
        assert_eq!(
            again.row(j),
            table.row(i),
            "{}: flow {:?} has other features once carved",
            capture.display(),
            m.flow_id()
        );
    }
}

#[test]
fn carved_flows_extract_again_to_the_same_features() {
    // Long TCP sessions (hydra against ftp), a pcapng scan of one-packet flows, plain HTTP.
    for (capture, pick) in [
        (repo_data("captures/bruteforce_hydra_ftp.pcap"), vec![0usize, 5, 17]),
        (shared("pcaps/attacks/synscan.pcapng"), vec![0, 1, 2, 40]),
        (shared("pcaps/normal/http.pcap"), vec![0]),
    ] {
        let (table, _) = read_capture(&capture, &ExtractOptions::default()).unwrap();
        let rows: Vec<usize> = pick.into_iter().filter(|&i| i < table.len()).collect();
        assert!(!rows.is_empty(), "{} has flows", capture.display());
        carve_and_reextract(&capture, &rows);
    }
}

/// `nmap -f` (made with the real tool, data/captures-fragments) splits every probe's TCP
/// header over three IP fragments of 8 bytes: each probe is one flow of the scanner, SYN and
/// nmap's 1024-byte window read from the header put together, every fragment a packet of it,
/// none orphaned; and carving a flow takes its fragments along.
#[test]
fn fragmented_probes_are_whole_flows_and_carve_with_their_fragments() {
    use netvigil::ingest::capture::SkipReason;
    let capture = repo_data("captures-fragments/portscan_nmap_fragmented.pcap");
    let (table, report) = read_capture(&capture, &ExtractOptions::default()).unwrap();
    assert_eq!(report.count(SkipReason::OrphanFragment), 0, "{report}");
    assert_eq!(report.count(SkipReason::MalformedHeader), 0, "{report}");
    assert_eq!(table.len(), 24, "one flow per probed port");
    let scanner: std::net::IpAddr = "10.77.0.1".parse().unwrap();
    for (i, m) in table.meta().iter().enumerate() {
        let row = table.row(i);
        assert_eq!(m.src_ip(), Some(scanner), "the scanner starts every flow");
        assert!(row[FeatureId::SynFlagCount as usize] >= 1.0);
        assert_eq!(row[FeatureId::InitWinBytesFwd as usize], 1024.0, "nmap's window");
        assert!(row[FeatureId::TotalFwdPackets as usize] >= 3.0, "the three fragments");
        assert_eq!(row[FeatureId::TotalLenFwdPackets as usize], 0.0, "header bytes are no payload");
    }
    let open = table.meta().iter().position(|m| m.dst_port == Some(80)).expect("the web server's port");
    carve_and_reextract(&capture, &[open, (open + 5) % table.len()]);
}

#[test]
fn carve_command_takes_packet_numbers_and_flow_ids_and_names_unknown_flows() {
    let capture = repo_data("captures/bruteforce_hydra_ssh.pcap");
    let (table, _) = read_capture(&capture, &ExtractOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two.pcap");
    let (first, second) = (&table.meta()[0], &table.meta()[1]);
    let status = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .arg("carve")
        .arg(&capture)
        .arg("--flow")
        .arg(first.line.to_string())
        .arg("--flow")
        .arg(second.flow_id().unwrap().as_ref())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let (carved, _) = read_capture(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(carved.len(), 2);
    assert_eq!(carved.row(find(&carved, &second.flow_id().unwrap(), second.timestamp_us())), table.row(1));

    let bad = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .arg("carve")
        .arg(&capture)
        .args(["--flow", "999999", "-o"])
        .arg(dir.path().join("none.pcap"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("bruteforce_hydra_ssh.pcap") && message.contains("no flow '999999'"), "{message}");
    assert!(!dir.path().join("none.pcap").exists(), "nothing written for a refused carve");
}
