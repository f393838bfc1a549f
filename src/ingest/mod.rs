//! Ingest: files in, a [`FlowTable`] out. CSV in every CICFlowMeter dialect (and captures,
//! through the extractor), many files and globs at once, one value policy, one report.

pub mod address;
pub mod capture;
mod csv;
pub mod dialect;
pub mod error;
pub mod export;
pub mod hash;
pub mod label;
mod options;
pub mod table;
pub mod timestamp;
pub mod validate;

use std::path::{Path, PathBuf};

pub use csv::{CsvStream, JsonFlowError, read_csv_from, read_json_flows};
pub use dialect::Dialect;
pub use error::IngestError;
pub use label::{AttackFamily, FlowLabel, LabelColumn};
pub use options::ReadOptions;
pub use table::{FlowId, FlowMeta, FlowTable, PayloadEvidence, SourceFile};
pub use validate::ValidationReport;

/// File extensions taken from a folder.
const INPUT_EXTENSIONS: [&str; 6] = ["csv", "pcap", "pcapng", "cap", "gz", "parquet"];

/// Expands files, folders (their input files, sorted) and glob patterns into file paths.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut files = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if input.is_dir() {
            files.extend(folder_inputs(input)?);
        } else if !input.exists() && text.contains(['*', '?', '[']) {
            let paths = glob::glob(&text)
                .map_err(|e| IngestError::BadPattern { pattern: text.to_string(), message: e.to_string() })?;
            let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
            if matched.is_empty() {
                return Err(IngestError::NoMatch { pattern: text.to_string() });
            }
            matched.sort();
            files.extend(matched);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn folder_inputs(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let entries = std::fs::read_dir(dir).map_err(|e| IngestError::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| INPUT_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        })
        .collect();
    if files.is_empty() {
        return Err(IngestError::NoMatch { pattern: format!("{}/*.csv", dir.display()) });
    }
    files.sort();
    Ok(files)
}

/// Reads one file of any supported kind, recognised by its first bytes: a capture, Parquet,
/// gzip-compressed CSV or CSV.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    match read_file_as(path, opts) {
        Err(IngestError::UnknownLabel { line, value, .. }) if opts.labels_if_known && !opts.ignore_labels => {
            let mut table = read_file_as(path, &ReadOptions { ignore_labels: true, ..opts.clone() })?;
            if let Some(source) = table.sources.first_mut() {
                source.report.labels_not_read =
                    Some(format!("'{}' at line {line} is no attack label NetVigil knows", value.trim()));
            }
            Ok(table)
        }
        other => other,
    }
}

fn read_file_as(path: &Path, opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    if capture::is_capture(path) {
        let (table, _report) =
            capture::read_capture(path, &opts.capture).map_err(|capture::CaptureError::Open { reason, .. }| {
                IngestError::Capture { path: path.to_path_buf(), message: reason.to_string() }
            })?;
        return Ok(table);
    }
    if csv::is_parquet(path) {
        return csv::read_parquet(path, opts);
    }
    if is_gzip(path) {
        // Flow archives are often kept compressed: decompressed as it is parsed, in one pass.
        let file = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
        let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file));
        return csv::read_csv_from(path, gz, opts);
    }
    csv::read_csv(path, opts)
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| magic == [0x1f, 0x8b])
}

/// Reads many files, folders and globs into one table (sources in order).
pub fn read_flows(inputs: &[PathBuf], opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    let mut table = FlowTable::default();
    for path in expand_inputs(inputs)? {
        table.append(read_file(&path, opts)?);
    }
    Ok(table)
}
