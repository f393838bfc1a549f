//! The normalised table on disk: metadata, the 72 features under their canonical names,
//! label and family. Metadata and feature columns use the 2017 TrafficLabelling spellings,
//! so NetVigil (and any CICIDS2017 tool) reads its own output back. Written atomically (temporary file in the same folder, then rename),
//! so a crash or a full disk never leaves a half-written output behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::error::IngestError;
use super::table::FlowTable;
use super::timestamp::write_timestamp;
use crate::features::{FEATURES, N_FEATURES};

/// Output formats, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Parquet,
}

impl OutputFormat {
    pub fn from_path(path: &Path) -> Result<OutputFormat, IngestError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(OutputFormat::Csv),
            Some("parquet") => Ok(OutputFormat::Parquet),
            _ => Err(IngestError::Write {
                path: path.to_path_buf(),
                message: "unknown output format: the name must end in .csv or .parquet".into(),
            }),
        }
    }
}

/// The metadata and label columns of a table as a polars frame (no features).
pub fn metadata_frame(table: &FlowTable) -> PolarsResult<DataFrame> {
    metadata_frame_rows(table, 0..table.len())
}

/// The metadata columns of the flows in `rows` (written a part at a time where the whole
/// would not fit in memory twice, e.g. the results of ten million flows).
pub fn metadata_frame_rows(table: &FlowTable, rows: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let meta = &table.meta()[rows.clone()];
    // Text columns through builders and one reused buffer: a `String` per cell was most of the
    // time of writing a large table (allocation, copy into the column, free).
    let mut buffer = String::new();
    let mut text = |name: &str, cell: &dyn Fn(usize, &mut String) -> bool| {
        let mut column = StringChunkedBuilder::new(name.into(), meta.len());
        for i in 0..meta.len() {
            buffer.clear();
            if cell(i, &mut buffer) { column.append_value(&buffer) } else { column.append_null() }
        }
        column.finish().into_column()
    };
    use std::fmt::Write as _;
    let flow_id = text("Flow ID", &|i, out| meta[i].flow_id().map(|id| out.push_str(&id)).is_some());
    let src_ip = text("Source IP", &|i, out| meta[i].src_ip().map(|a| write!(out, "{a}")).is_some());
    let dst_ip = text("Destination IP", &|i, out| meta[i].dst_ip().map(|a| write!(out, "{a}")).is_some());
    let timestamp = text("Timestamp", &|i, out| meta[i].timestamp_us().map(|t| write_timestamp(out, t)).is_some());
    let files: Vec<String> = table.sources.iter().map(|s| s.path.display().to_string()).collect();
    let mut cols: Vec<Column> = vec![
        flow_id,
        src_ip,
        Column::new("Source Port".into(), meta.iter().map(|m| m.src_port.map(u32::from)).collect::<Vec<_>>()),
        dst_ip,
        Column::new("Destination Port".into(), meta.iter().map(|m| m.dst_port.map(u32::from)).collect::<Vec<_>>()),
        Column::new("Protocol".into(), meta.iter().map(|m| m.protocol.map(u32::from)).collect::<Vec<_>>()),
        timestamp,
        Column::new(
            "Source File".into(),
            meta.iter().map(|m| files.get(m.source as usize).map(String::as_str)).collect::<Vec<_>>(),
        ),
        Column::new("Source Line".into(), meta.iter().map(|m| m.line).collect::<Vec<u64>>()),
    ];
    if let Some(labels) = table.labels() {
        cols.push(Column::new("Label".into(), rows.clone().map(|r| &*labels[r].raw).collect::<Vec<&str>>()));
        cols.push(Column::new("Family".into(), rows.map(|r| labels[r].family.name()).collect::<Vec<_>>()));
    }
    DataFrame::new_infer_height(cols)
}

/// The normalised table: metadata, 72 features, label and family.
pub fn table_frame(table: &FlowTable) -> PolarsResult<DataFrame> {
    table_frame_rows(table, 0..table.len())
}

/// [`table_frame`] of the flows in `rows`.
pub fn table_frame_rows(table: &FlowTable, rows: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let mut df = metadata_frame_rows(table, rows.clone())?;
    // Rows read in order, each value to its column: 72 passes striding over the rows took
    // several times as long.
    let mut columns: Vec<Vec<f32>> = (0..N_FEATURES).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in table.features()[rows.start * N_FEATURES..rows.end * N_FEATURES].chunks_exact(N_FEATURES) {
        for (column, &v) in columns.iter_mut().zip(row) {
            column.push(v);
        }
    }
    for (spec, values) in FEATURES.iter().zip(columns) {
        df.with_column(Column::new(spec.name.into(), values))?;
    }
    Ok(df)
}

/// Rows per part when a table is written: the text of a part's metadata (addresses, flow IDs,
/// times) is built, written and dropped before the next, so writing the 7.5 million flows of
/// a 1 GB capture never holds them all as strings (whole, that took 6.1 GB at the peak).
pub const WRITE_PART_ROWS: usize = 262_144;

/// Writes a table to `path` (CSV or Parquet by extension) a part at a time, atomically.
pub fn write_table(table: &FlowTable, path: &Path) -> Result<(), IngestError> {
    let format = OutputFormat::from_path(path)?;
    let parts = (0..table.len().max(1))
        .step_by(WRITE_PART_ROWS)
        .map(|start| table_frame_rows(table, start..(start + WRITE_PART_ROWS).min(table.len())));
    write_atomically(path, |file| match format {
        OutputFormat::Parquet => write_parquet_parts(file, parts),
        OutputFormat::Csv => {
            for (i, part) in parts.enumerate() {
                let mut part = part.map_err(|e| std::io::Error::other(e.to_string()))?;
                CsvWriter::new(&mut *file)
                    .include_header(i == 0)
                    .finish(&mut part)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            Ok(())
        }
    })
}

/// One Parquet file of `parts` (frames of the same columns, at least one), a row group or
/// more per part.
pub fn write_parquet_parts<E: std::fmt::Display>(
    file: &mut BufWriter<File>,
    mut parts: impl Iterator<Item = std::result::Result<DataFrame, E>>,
) -> std::io::Result<()> {
    let other = |e: PolarsError| std::io::Error::other(e.to_string());
    let failed = |e: E| std::io::Error::other(e.to_string());
    let first = parts.next().ok_or_else(|| std::io::Error::other("nothing to write"))?.map_err(failed)?;
    let mut writer = ParquetWriter::new(file).batched(first.schema()).map_err(other)?;
    writer.write_batch(&first).map_err(other)?;
    for part in parts {
        writer.write_batch(&part.map_err(failed)?).map_err(other)?;
    }
    writer.finish().map(|_| ()).map_err(other)
}

/// Writes a frame to `path` (CSV or Parquet by extension), atomically.
pub fn write_frame(df: &mut DataFrame, path: &Path) -> Result<(), IngestError> {
    let format = OutputFormat::from_path(path)?;
    write_atomically(path, |file| {
        match format {
            OutputFormat::Csv => CsvWriter::new(file).finish(df).map(|_| ()),
            OutputFormat::Parquet => ParquetWriter::new(file).finish(df).map(|_| ()),
        }
        .map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Runs `write` on a temporary file beside `path`, syncs it and renames it into place.
/// On any error the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), IngestError> {
    let file = PendingFile::new(path);
    let mut out = BufWriter::new(file.create()?);
    write(&mut out).and_then(|()| out.flush()).map_err(|e| file.error(e))?;
    drop(out);
    file.commit()
}

/// A temporary file beside `path` that becomes `path` only by [`PendingFile::commit`] (synced,
/// then renamed over it); dropped before that, it is removed and `path` is untouched. For output
/// written part by part over a long task, where [`write_atomically`]'s one closure does not fit.
pub struct PendingFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl PendingFile {
    pub fn new(path: &Path) -> Self {
        PendingFile { path: path.to_path_buf(), tmp: temp_path(path), committed: false }
    }

    /// The temporary file, created empty, to write into.
    pub fn create(&self) -> Result<File, IngestError> {
        File::create(&self.tmp).map_err(|e| self.error(e))
    }

    /// Syncs what was written (every writer on it finished and dropped) and puts it in place.
    pub fn commit(mut self) -> Result<(), IngestError> {
        let result =
            File::open(&self.tmp).and_then(|f| f.sync_all()).and_then(|()| std::fs::rename(&self.tmp, &self.path));
        result.map_err(|e| self.error(e))?;
        self.committed = true;
        Ok(())
    }

    pub fn error(&self, e: impl std::fmt::Display) -> IngestError {
        IngestError::Write { path: self.path.clone(), message: e.to_string() }
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
