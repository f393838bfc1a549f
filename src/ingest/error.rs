//! Errors of ingest. Every variant names the file, and where it applies the line and column,
//! so an analyst can open the file and see the problem.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{pattern}: no file matches")]
    NoMatch { pattern: String },

    #[error("{pattern}: invalid pattern: {message}")]
    BadPattern { pattern: String, message: String },

    #[error("{}: the file is empty", path.display())]
    Empty { path: PathBuf },

    #[error("{}: not a CSV file: it holds binary data (NUL byte at offset {offset})", path.display())]
    Binary { path: PathBuf, offset: usize },

    #[error(
        "{}, line 1: not a CICFlowMeter header ({recognised} of 72 feature columns recognised; it starts: {preview})",
        path.display()
    )]
    UnknownHeader { path: PathBuf, recognised: usize, preview: String },

    #[error(
        "{}: {dialect} file lacks required feature column(s): {}",
        path.display(),
        missing.join(", ")
    )]
    MissingColumns { path: PathBuf, dialect: String, missing: Vec<String> },

    #[error(
        "{}, line {line}, column '{column}': '{value}' is not a number (--lenient drops such rows)",
        path.display()
    )]
    NotNumeric { path: PathBuf, line: u64, column: String, value: String },

    #[error(
        "{}, line {line}: {found} fields where the header has {expected} (--lenient drops such rows)",
        path.display()
    )]
    FieldCount { path: PathBuf, line: u64, found: usize, expected: usize },

    #[error(
        "{}, line {line}, column 'Label': '{value}' is no known attack label (--lenient drops such rows; --ignore-labels reads the file without labels)",
        path.display()
    )]
    UnknownLabel { path: PathBuf, line: u64, value: String },

    #[error("{}: CSV parser: {message}", path.display())]
    Parse { path: PathBuf, message: String },

    #[error("{}: {message}", path.display())]
    Capture { path: PathBuf, message: String },

    #[error("{}: Parquet: {message}", path.display())]
    Parquet { path: PathBuf, message: String },

    #[error("{}: cannot write: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

impl IngestError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io { path: path.into(), source }
    }
}
