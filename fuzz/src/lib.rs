//! The capture module and the types it fills, compiled from the main crate's sources.
#[path = "../../src/features/mod.rs"]
pub mod features;
pub mod ingest {
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
}
