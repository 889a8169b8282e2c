//! Integration tests of presswork_db against a real PostgreSQL; each test gets
//! its own database cloned from the migrated template.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step must stop the test loudly"
)]

mod admin;
mod audit;
mod migrations;
mod public_reads;
mod revisions;
mod schema;
mod seed;
