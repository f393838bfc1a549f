//! Capture extraction on inputs derived from real captures by truncating, corrupting,
//! fragmenting, re-encoding, relinking and reordering them: every one is read without a panic
//! or a hang, and what could be recovered gives the same flows as the original.

use std::collections::HashMap;
use std::io::Write;

use netvigil::features::N_FEATURES;
use netvigil::ingest::capture::{self, Compat, ExtractOptions, FlowRecord, SkipReason};

use super::capture::{by_first_packet, corrected, extract, write_temp};
use crate::common::shared;

#[test]
fn fuzz_regressions_do_not_panic() {
    // Inputs the fuzz target once crashed on (first byte: the mode, as in the target).
    let dir = crate::common::repo("tests/data/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for compat in [Compat::Corrected, Compat::Cicids2017, Compat::CicFlowMeter4] {
            let opts =
                ExtractOptions { max_flows: 64, max_pending: 64, min_packets: 1, ..ExtractOptions::for_compat(compat) };
            if let Ok((flows, report)) = capture::extract_bytes(bytes[1..].to_vec(), &opts) {
                assert_eq!(report.flows as usize, flows.len());
            }
        }
        n += 1;
    }
    assert!(n >= 1);
}

// ------------------------------------------------------------------ derived bad inputs

/// The flows of the official test.pcap as it is: what every rewritten copy must give.
fn test_pcap_flows() -> Vec<FlowRecord> {
    extract(&shared("cicflowmeter-reference/official-test/test.pcap"), &corrected()).0
}

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
    let cuts = [offsets[1000] + 7, offsets[2000] + 30, 25, 40, bytes.len() - 1];
    for cut in cuts {
        let path = write_temp(&dir, &format!("cut{cut}.pcap"), &bytes[..cut]);
        let (_, report) = extract(&path, &corrected());
        assert_eq!(report.count(SkipReason::TruncatedRecord), 1, "cut at {cut}: {report}");
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
    let damaged = report.reasons.get(&SkipReason::DamagedRecord).expect("damage reported");
    assert_eq!(damaged.first_packet, 501, "{report}");
    assert!(report.count(SkipReason::ZeroLength) >= 2, "{report}");
    assert!(report.reasons[&SkipReason::ZeroLength].first_packet < 2500, "{report}");
    // Nearly all of the 3,292 packets still reach their flows.
    assert!(report.packets_in_flows + report.packets_in_small_flows > 3200, "{report}");
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
    assert!(report.count(SkipReason::DamagedRecord) + report.count(SkipReason::TruncatedRecord) >= 1, "{report}");
}

/// How `fragment_record` writes the two fragments.
#[derive(Clone, Copy, PartialEq)]
enum FragmentOrder {
    InOrder,
    LastFirst,
    FirstLost,
}

/// Splits record `i` of test.pcap (Ethernet/IPv4/TCP with payload) into two IPv4 fragments,
/// written as `order` says.
fn fragment_record(bytes: &[u8], i: usize, order: FragmentOrder) -> Vec<u8> {
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
    match order {
        FragmentOrder::InOrder => out.extend(one.into_iter().chain(two)),
        FragmentOrder::LastFirst => out.extend(two.into_iter().chain(one)),
        FragmentOrder::FirstLost => out.extend(two),
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
        v.iter().map(|f| ((f.start_us, f.sport, f.dport), f.features)).collect()
    };
    let reference = test_pcap_flows();
    let reference = key(&reference);
    let dir = tempfile::tempdir().expect("tempdir");
    let (flows, report) =
        extract(&write_temp(&dir, "frag.pcap", &fragment_record(&bytes, i, FragmentOrder::InOrder)), &corrected());
    assert_eq!(report.count(SkipReason::OrphanFragment), 0, "{report}");
    // Sent last fragment first (as some stacks and evasion tools do): the same flows.
    let (last_first, report) = extract(
        &write_temp(&dir, "last-first.pcap", &fragment_record(&bytes, i, FragmentOrder::LastFirst)),
        &corrected(),
    );
    assert_eq!(report.count(SkipReason::OrphanFragment), 0, "{report}");
    assert_eq!(key(&last_first), key(&flows));
    let flows = key(&flows);
    use netvigil::features::FeatureId as F;
    let mut changed = 0;
    for (k, ours) in &flows {
        let theirs = reference.get(k).expect("same flows");
        if ours != theirs {
            changed += 1;
            // Same payload bytes, one more packet: the second fragment counts into the flow.
            let total = |v: &[f64; N_FEATURES]| v[F::TotalLenFwdPackets as usize] + v[F::TotalLenBwdPackets as usize];
            let packets = |v: &[f64; N_FEATURES]| v[F::TotalFwdPackets as usize] + v[F::TotalBwdPackets as usize];
            assert_eq!(total(ours), total(theirs));
            assert_eq!(packets(ours), packets(theirs) + 1.0);
        }
    }
    assert_eq!((flows.len(), changed), (reference.len(), 1));
    // A fragment whose first fragment never came is reported.
    let (_, report) =
        extract(&write_temp(&dir, "orphan.pcap", &fragment_record(&bytes, i, FragmentOrder::FirstLost)), &corrected());
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
    assert_eq!(report.reasons[&SkipReason::DamagedBlock].first_packet, 3, "{report}");
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
    let (_, report) = extract(&write_temp(&dir, "cut.pcapng", &original[..original.len() - 100]), &corrected());
    assert_eq!(report.count(SkipReason::TruncatedRecord), 1, "{report}");
    assert_eq!(report.packets, 12, "{report}");
}

/// Rewrites a little-endian microsecond pcap as big-endian and/or nanosecond.
fn reencode(bytes: &[u8], big_endian: bool, nanos: bool) -> Vec<u8> {
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let put = |out: &mut Vec<u8>, v: u32| out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    let mut out = Vec::with_capacity(bytes.len());
    put(&mut out, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
    let version = if big_endian { [0, 2, 0, 4] } else { [2, 0, 4, 0] };
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
    let reference = by_first_packet(&test_pcap_flows());
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
    let reference = by_first_packet(&test_pcap_flows());
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
    let path = write_temp(&dir, "user0.pcap", &relink(&bytes, 147, |f| f[..14].to_vec()));
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
    let mut ng =
        block(0x0A0D_0D0A, &[0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // Interface 0: Ethernet, default microseconds. Interface 1: raw IP, nanoseconds (tsresol 9).
    ng.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
    ng.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
    for (i, at) in record_offsets(&bytes).into_iter().enumerate() {
        let us = u64::from(u32_at(at)) * 1_000_000 + u64::from(u32_at(at + 4));
        let incl = u32_at(at + 8) as usize;
        let frame = &bytes[at + 16..at + 16 + incl];
        let (iface, ticks, data) = if i % 2 == 0 { (0u32, us, frame) } else { (1, us * 1000, &frame[14..]) };
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
    let (flows, report) = extract(&path, &ExtractOptions { drop_duplicates: false, ..corrected() });
    assert_eq!(report.format, "pcapng");
    assert_eq!(report.link_types, vec![1, 101]);
    assert_eq!(report.packets, 3293);
    assert_eq!(report.count(SkipReason::NoTimestamp), 1);
    assert_eq!(report.count(SkipReason::Duplicate), 1, "the simple block repeats the last packet at its time");
    let reference = test_pcap_flows();
    assert_eq!(flows.len(), reference.len());
    let starts = |v: &[FlowRecord]| v.iter().map(|f| (f.start_us, f.first_packet)).collect::<Vec<_>>();
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
    let i =
        (100..offsets.len() - 1).find(|&i| ts(i + 1) - ts(i) > 0 && ts(i + 1) - ts(i) < 50_000).expect("close pair");
    let mut swapped = bytes[..offsets[i]].to_vec();
    swapped.extend(record(i + 1));
    swapped.extend(record(i));
    swapped.extend(&bytes[offsets[i + 2]..]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(&dir, "swapped.pcap", &swapped);
    let (flows, report) = extract(&path, &corrected());
    assert_eq!(report.count(SkipReason::Reordered), 1, "{report}");
    let reference = test_pcap_flows();
    let features = |v: &[FlowRecord]| v.iter().map(|f| f.features.map(f64::to_bits)).collect::<Vec<_>>();
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
