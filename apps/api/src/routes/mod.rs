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

/// Free-form JSON the API stores (task payloads and metadata, command
/// payloads and results, post metadata, setting values) must read back the
/// way it went in: at most 32 levels deep, numbers within ±1e300 (PostgreSQL
/// keeps every digit of a larger one and it no longer parses as a float).
pub(crate) fn check_json(field: &str, v: &serde_json::Value) -> Result<(), crate::ApiError> {
    fn walk(v: &serde_json::Value, depth: usize) -> Result<(), &'static str> {
        if depth > 32 {
            return Err("is nested more than 32 levels deep");
        }
        match v {
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() && f.abs() <= 1e300 => Ok(()),
                _ if n.is_i64() || n.is_u64() => Ok(()),
                _ => Err("holds a number beyond ±1e300"),
            },
            serde_json::Value::Array(a) => a.iter().try_for_each(|x| walk(x, depth + 1)),
            serde_json::Value::Object(o) => o.values().try_for_each(|x| walk(x, depth + 1)),
            _ => Ok(()),
        }
    }
    walk(v, 0).map_err(|reason| crate::ApiError::validation(field, reason))
}
