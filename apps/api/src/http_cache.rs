//! Strong ETags over response bytes, `If-None-Match` → 304, `If-Match` checks.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", hex_prefix(&digest[..16]))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn matches(header_value: &str, etag: &str) -> bool {
    header_value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// Serialises `body`; answers 304 when the caller already has it. Public
/// answers may be cached by shared caches; answers that depend on who asks
/// are private.
pub fn cached_json<T: Serialize>(
    req: &HttpRequest,
    body: &T,
    public: bool,
) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(respond_bytes(req, bytes, public))
}

pub fn respond_bytes(req: &HttpRequest, bytes: Vec<u8>, public: bool) -> HttpResponse {
    let etag = etag_of(&bytes);
    let cache_control = if public {
        "public, max-age=60"
    } else {
        "private, no-cache"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, &etag));
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Authorization, X-API-Key"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.insert_header((header::ETAG, v));
    }
    if not_modified {
        res.finish()
    } else {
        res.content_type("application/json").body(bytes)
    }
}

/// The caller's `If-Match`, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// 412 unless `current_etag` satisfies the caller's `If-Match`.
pub fn check_if_match(header_value: &str, current_etag: &str) -> Result<(), ApiError> {
    if matches(header_value, current_etag) {
        Ok(())
    } else {
        Err(ApiError::new(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the resource changed since you read it (If-Match does not match its ETag)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching() {
        let e = etag_of(b"{}");
        assert!(e.starts_with('"') && e.ends_with('"') && e.len() == 34);
        assert!(matches(&e, &e));
        assert!(matches(&format!("\"x\", {e}"), &e));
        assert!(matches("*", &e));
        assert!(matches(&format!("W/{e}"), &e));
        assert!(!matches("\"other\"", &e));
        assert_ne!(etag_of(b"{}"), etag_of(b"[]"));
    }
}
