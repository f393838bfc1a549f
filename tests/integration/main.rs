//! The one integration-test binary (each test binary is a slow link on 2 cores).

mod capture;
mod capture_damage;
mod carve;
mod common;
mod compare;
mod crash;
mod detect;
mod ensemble;
mod explain;
mod fused;
mod gui;
mod gui_train;
mod http_rules;
mod ingest;
mod ingest_cells;
mod model;
mod offline;
mod packaging;
mod serve;
mod service;
mod sources;
mod spark;
mod store;
mod traffic;
