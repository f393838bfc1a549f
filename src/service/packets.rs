//! The packets behind flows on screen: for each capture the chosen flows came from, one pass
//! over it writes their packets to a new pcap in the data folder (`packets/`), ready for
//! Wireshark. Flows read from CSV have no packets to give and are counted, not carved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::task::{Progress, Task};
use crate::ingest::Dialect;
use crate::ingest::capture::carve::{CarveReport, FlowWindow, carve};
use crate::ingest::table::FlowTable;

/// What one carve of the window's flows wrote.
#[derive(Debug, Clone)]
pub struct CarvedPackets {
    /// One pcap per capture, with what was written.
    pub files: Vec<(PathBuf, CarveReport)>,
    /// Chosen flows that came from flow records, not a capture.
    pub without_capture: usize,
}

/// Writes the packets of `rows` of `table` into `<data_dir>/packets/`, one pcap per capture.
pub fn carve_rows(data_dir: &Path, table: &FlowTable, rows: &[u32], task: &Task) -> anyhow::Result<CarvedPackets> {
    let mut by_source: BTreeMap<u32, Vec<FlowWindow>> = BTreeMap::new();
    let mut without_capture = 0;
    for &r in rows {
        let meta = &table.meta()[r as usize];
        let from_capture = table.sources.get(meta.source as usize).is_some_and(|s| s.dialect == Dialect::Capture);
        match FlowWindow::of_row(table, r as usize).filter(|_| from_capture) {
            Some(w) => by_source.entry(meta.source).or_default().push(w),
            None => without_capture += 1,
        }
    }
    anyhow::ensure!(
        !by_source.is_empty(),
        "none of the {} flows comes from a capture, so there are no packets to save",
        rows.len()
    );
    let dir = data_dir.join("packets");
    std::fs::create_dir_all(&dir)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut files = Vec::new();
    for (i, (source, windows)) in by_source.iter().enumerate() {
        task.check()?;
        let capture = &table.sources[*source as usize].path;
        let stem = capture.file_stem().map_or("capture".into(), |s| s.to_string_lossy().into_owned());
        task.report(Progress::new(
            format!("writing the packets of {} flows of {}", windows.len(), capture.display()),
            i as u64,
            Some(by_source.len() as u64),
        ));
        let out = dir.join(format!("{stem}-{}-flows-{stamp}.pcap", windows.len()));
        let report = carve(capture, windows, &out)?;
        files.push((out, report));
    }
    Ok(CarvedPackets { files, without_capture })
}

/// Wireshark's binary, where one is installed (looked up on PATH).
pub fn wireshark() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("wireshark")).find(|p| p.is_file())
}
