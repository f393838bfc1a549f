//! Reading flow files as a task: what the window's Open and `predict` do before scoring. A
//! progress line per file, a capture's bytes as it is extracted, and cancellation between
//! files (a capture already being extracted is finished first: the extractor has no step at
//! which to stop).

use std::path::PathBuf;

use super::task::{Progress, Task};
use crate::ingest::{FlowTable, ReadOptions, capture, expand_inputs, read_file};

/// Reads files, folders and globs into one table (sources in order).
pub fn read(inputs: &[PathBuf], opts: &ReadOptions, task: &Task) -> anyhow::Result<FlowTable> {
    let files = expand_inputs(inputs)?;
    let mut table = FlowTable::default();
    for (i, path) in files.iter().enumerate() {
        task.check()?;
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let stage = if files.len() > 1 { format!("reading {name} ({} of {})", i + 1, files.len()) } else { format!("reading {name}") };
        task.report(Progress::new(stage.clone(), 0, Some(size)));
        if capture::is_capture(path) {
            let mut on_packets = |bytes: u64, packets: u64| {
                task.report(Progress::new(format!("{stage}: {packets} packets"), bytes.min(size), Some(size)));
            };
            let (flows, report) = capture::extract_file(path, &opts.capture, &mut on_packets)?;
            table.append(capture::records_to_table(path, &flows, &report));
        } else {
            table.append(read_file(path, opts)?);
        }
        task.report(Progress::new(stage, size, Some(size)));
    }
    Ok(table)
}
