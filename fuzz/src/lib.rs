//! The capture module and the types it fills, compiled from the main crate's sources.
#[path = "../../src/features/mod.rs"]
pub mod features;
pub mod ingest;
