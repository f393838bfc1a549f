//! NetVigil: offline detection of attacks in network flows.
//!
//! Data flows one way: `features` (the 72-feature schema) → `ingest` (CSV dialects, captures,
//! validation) → `model` (Mixture-of-Experts) → `train` → `store` (SQLite, persistence only) →
//! `service` (whole tasks) → the front ends `app` (GUI), `cli` and `serve` (HTTP), which never
//! import each other.
//! Beside the model, `detect` finds scans, floods and brute force across the flows of a table.

pub mod app;
pub mod cli;
pub mod detect;
pub mod features;
pub mod ingest;
pub mod model;
pub mod serve;
pub mod service;
pub mod store;
pub mod train;
