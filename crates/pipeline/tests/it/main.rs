#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod eval;
mod ledger;
mod outbound;
mod pipeline;
