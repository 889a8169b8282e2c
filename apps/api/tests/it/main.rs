//! Integration tests of presswork-api: the production app, in process, over a
//! real PostgreSQL database of its own per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step must stop the test loudly"
)]

mod cors;
mod errors;
mod health;
mod helpers;
mod openapi;
