//! The one integration-test binary (each test binary is a slow link on 2 cores).

mod common;
mod ingest;
