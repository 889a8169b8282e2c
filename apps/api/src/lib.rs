//! `presswork-api`: the HTTP API (actix-web) and the editorial console.
//!
//! Thin by design: handlers extract, authorise, call a crate and map the result
//! to a response DTO. No SQL and no business rules live here.

pub mod auth;
pub mod cache;
pub mod console;
pub mod error;
pub mod events;
pub mod http_cache;
pub mod limits;
pub mod methods;
pub mod middleware;
pub mod openapi;
pub mod prometheus;
pub mod ratelimit;
pub mod rfc3339;
pub mod routes;
pub mod schemas;
pub mod startup;
pub mod state;

pub use error::ApiError;
pub use state::AppState;
