//! One module per resource. `configure` registers every route; `main` and the
//! tests both build the app through `startup`.
//!
//! Every operation declares who may call it in its `#[utoipa::path]`:
//! `security(())` for public endpoints, otherwise the permission as a scope
//! (`security(("bearer" = ["posts:create"]))`), matched by a `Require<..>`
//! first argument. A test walks the OpenAPI document and checks both.

pub mod agents;
pub mod auth;
pub mod commands;
pub mod health;
pub mod posts;
pub mod settings;
pub mod tasks;
pub mod taxonomy;
pub mod users;
pub mod webhooks;
