//! Any byte string as a capture: reading, decoding and flow building must never panic, hang
//! or grow without bound; every packet must be accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netvigil_fuzz::ingest::capture::{Compat, ExtractOptions, extract_bytes};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode so all three CICFlowMeter variants get fuzzed.
    let compat = match data.first().map(|b| b % 3) {
        Some(0) => Compat::Corrected,
        Some(1) => Compat::Cicids2017,
        _ => Compat::CicFlowMeter4,
    };
    let opts = ExtractOptions {
        max_flows: 64,
        max_pending: 64,
        min_packets: 1,
        ..ExtractOptions::for_compat(compat)
    };
    if let Ok((flows, report)) = extract_bytes(data.get(1..).unwrap_or(&[]).to_vec(), &opts) {
        assert_eq!(report.flows as usize, flows.len());
        assert!(report.packets_in_flows + report.packets_in_small_flows <= report.packets);
        for f in &flows {
            assert!(f.features.iter().all(|v| !v.is_nan()));
        }
    }
});
