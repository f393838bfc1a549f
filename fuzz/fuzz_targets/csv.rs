//! Any byte string as a flow CSV (any CICFlowMeter dialect, or none): reading must never
//! panic or hang; it gives a table whose every count adds up, or an error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use netvigil_fuzz::features::N_FEATURES;
use netvigil_fuzz::ingest::ReadOptions;
use netvigil_fuzz::ingest::csv::read_csv_from;

fuzz_target!(|data: &[u8]| {
    // The first byte picks strict or lenient reading and a chunk size from 1 byte up, so that
    // lines, quotes and the header fall across chunk boundaries.
    let mode = data.first().copied().unwrap_or(0);
    let opts = ReadOptions { lenient: mode & 1 == 1, chunk_bytes: 1 << (mode >> 1) % 16, ..ReadOptions::default() };
    let body = data.get(1..).unwrap_or(&[]);
    if let Ok(table) = read_csv_from(Path::new("fuzz.csv"), body, &opts) {
        assert_eq!(table.features().len(), table.len() * N_FEATURES);
        assert_eq!(table.meta().len(), table.len());
        assert!(table.labels().is_none_or(|l| l.len() == table.len()));
        assert_eq!(table.sources.len(), 1);
        assert_eq!(table.sources[0].rows, table.len());
        assert!(table.features().iter().all(|v| v.is_finite()), "the value policy leaves no NaN or infinity");
    }
});
