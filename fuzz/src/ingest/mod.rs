//! `netvigil::ingest`'s capture module, CSV reader and the table types they fill, from ../src.
#[path = "../../../src/ingest/address.rs"]
pub mod address;
#[path = "../../../src/ingest/capture/mod.rs"]
pub mod capture;
#[path = "../../../src/ingest/dialect.rs"]
pub mod dialect;
#[path = "../../../src/ingest/label.rs"]
pub mod label;
#[path = "../../../src/ingest/table.rs"]
pub mod table;
#[path = "../../../src/ingest/validate.rs"]
pub mod validate;
/// The CSV reader: an inline module pointed at the main crate's `src/ingest`, so that
/// `csv.rs` finds its own submodules (`csv/cells.rs`, ...) as it does there.
#[path = "../../../src/ingest"]
pub mod reader {
    pub mod csv;
    pub use super::{ReadOptions, dialect, error, label, table, validate};
}
pub use reader::csv;
#[path = "../../../src/ingest/error.rs"]
pub mod error;
#[path = "../../../src/ingest/options.rs"]
mod options;
#[path = "../../../src/ingest/timestamp.rs"]
pub mod timestamp;

pub use options::ReadOptions;
