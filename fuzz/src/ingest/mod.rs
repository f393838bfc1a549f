//! `netvigil::ingest`'s capture module and the table types it fills, from ../src.
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
