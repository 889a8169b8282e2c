//! `presswork-worker`: claims tasks from the PostgreSQL queue and runs them.
//!
//! The runtime (`runner`) is generic over task kinds; each kind registers a
//! [`Handler`](runner::Handler). Nothing here holds a transaction or a pooled
//! connection while a task runs: each step checks a connection out briefly.

pub mod handlers;
pub mod listener;
pub mod metrics;
pub mod runner;
pub mod webhooks;
