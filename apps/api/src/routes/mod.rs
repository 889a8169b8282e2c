//! One module per resource. `configure` registers every route; `main` and the
//! tests both build the app through `startup`.
//!
//! Every operation declares who may call it in its `#[utoipa::path]`:
//! `security(())` for public endpoints, otherwise the permission as a scope
//! (`security(("bearer" = ["posts:create"]))`), matched by a `Require<..>`
//! first argument. A test walks the OpenAPI document and checks both.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod commands;
pub mod content;
pub mod health;
pub mod metrics;
pub mod models;
pub mod ollama;
pub mod post_fragments;
pub mod posts;
pub mod previews;
pub mod revisions;
pub mod settings;
pub mod social;
pub mod tasks;
pub mod taxonomy;
pub mod users;
pub mod webhooks;

/// Every offset-paged list's rule: `limit` within 1..=`max` (`default` when
/// absent), `offset` 0 or more (0 when absent); either out of range is a 422
/// naming it.
pub(crate) fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
    max: i64,
) -> Result<(i64, i64), crate::error::ApiError> {
    let limit = limit.unwrap_or(default);
    let offset = offset.unwrap_or(0);
    if !(1..=max).contains(&limit) {
        return Err(crate::error::ApiError::validation(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    if offset < 0 {
        return Err(crate::error::ApiError::validation(
            "offset",
            "must not be negative",
        ));
    }
    Ok((limit, offset))
}

/// For PATCH-style bodies: an absent field stays `None` (leave as is), an
/// explicit `null` becomes `Some(None)` (clear it).
pub(crate) fn nullable<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// For fields that may be absent but are never `null` (a term's name or
/// slug cannot be cleared, and the schema says a string): absent stays
/// `None` (with `#[serde(default)]`), `null` is refused naming `field`.
pub(crate) fn not_null<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
    field: &str,
) -> Result<Option<T>, D::Error> {
    match <Option<T> as serde::Deserialize>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(format!(
            "{field} must not be null"
        ))),
    }
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

/// Integers in JSON bodies. JSON Schema's `integer` includes numbers with a
/// zero fraction (`759.0`), which serde refuses for integer types: these
/// accept them, and refuse a fraction or a value out of range with the
/// field's type named.
pub(crate) mod whole {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    fn convert<T: TryFrom<i64>, E: serde::de::Error>(n: serde_json::Number) -> Result<T, E> {
        let v = match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
            _ => return Err(E::custom(format!("{n} is not a whole number in range"))),
        };
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    /// For `Option<integer>` fields (with `#[serde(default)]`).
    pub(crate) fn opt<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(convert)
            .transpose()
    }

    /// For integer fields.
    pub(crate) fn exact<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
        convert(serde_json::Number::deserialize(d).map_err(D::Error::custom)?)
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize)]
        struct B {
            #[serde(default, deserialize_with = "super::opt")]
            n: Option<i32>,
        }

        #[test]
        fn zero_fractions_are_whole() {
            let n = |s: &str| serde_json::from_str::<B>(s).map(|b| b.n);
            assert_eq!(n(r#"{"n": -759.0}"#).unwrap(), Some(-759));
            assert_eq!(n(r#"{"n": 12}"#).unwrap(), Some(12));
            assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
            assert_eq!(n("{}").unwrap(), None);
            assert!(n(r#"{"n": 1.5}"#).is_err());
            assert!(n(r#"{"n": 3e10}"#).is_err());
            assert!(n(r#"{"n": "3"}"#).is_err());
        }
    }
}
