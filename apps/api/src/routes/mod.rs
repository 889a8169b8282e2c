//! One module per resource. `configure` registers every route; `main` and the
//! tests both build the app through `startup`.
//!
//! Every operation declares who may call it in its `#[utoipa::path]`:
//! `security(())` for public endpoints, otherwise the permission as a scope
//! (`security(("bearer" = ["posts:create"]))`), matched by a `Require<..>`
//! first argument. A test walks the OpenAPI document and checks both.

pub mod agents;
pub mod auth;
pub mod chat;
pub mod commands;
pub mod content;
pub mod health;
pub mod metrics;
pub mod models;
pub mod ollama;
pub mod posts;
pub mod settings;
pub mod social;
pub mod tasks;
pub mod taxonomy;
pub mod users;
pub mod webhooks;

/// For PATCH-style bodies: an absent field stays `None` (leave as is), an
/// explicit `null` becomes `Some(None)` (clear it).
pub(crate) fn nullable<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
