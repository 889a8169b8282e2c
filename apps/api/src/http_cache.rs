//! Strong ETags over response bytes, `If-None-Match` → 304, `If-Match` checks.

use crate::error::ApiError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// A strong ETag: the 128-bit XXH3 of the bytes, in hex. An ETag only has
/// to change when the bytes do (nothing is authenticated by it), and XXH3
/// costs a fraction of SHA-256, which took 5-7 % of the API's CPU on cold
/// reads (docs/PERFORMANCE.md).
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes))
}

fn matches(header_value: &str, etag: &str) -> bool {
    header_value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// Answers `bytes` with its strong ETag (304 when the caller has it). Public
/// answers may be cached by shared caches; answers that depend on who asks
/// are private.
pub fn respond_bytes(req: &HttpRequest, bytes: Vec<u8>, public: bool) -> HttpResponse {
    let etag = etag_of(&bytes);
    respond_with_etag(req, actix_web::web::Bytes::from(bytes), &etag, public)
}

pub fn respond_with_etag(
    req: &HttpRequest,
    bytes: actix_web::web::Bytes,
    etag: &str,
    public: bool,
) -> HttpResponse {
    let cache_control = if public {
        "public, max-age=60"
    } else {
        "private, no-cache"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, etag));
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Authorization, X-API-Key"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.insert_header((header::ETAG, v));
    }
    if not_modified {
        res.finish()
    } else {
        res.content_type("application/json").body(bytes)
    }
}

/// Serves an anonymous read from the public cache, or computes, stores and
/// serves it. Authenticated callers always get a fresh, private answer.
pub async fn public_read<F, Fut>(
    req: &HttpRequest,
    state: &crate::AppState,
    anonymous: bool,
    compute: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, ApiError>>,
{
    let cache = &state.public_cache;
    if !(anonymous && cache.enabled()) {
        return Ok(respond_bytes(req, compute().await?, anonymous));
    }
    let key = format!("{}?{}", req.path(), req.query_string());
    let mut filling = None;
    let mut waited = false;
    let mut asked_before = false;
    let stale = loop {
        match cache.get(&key) {
            crate::cache::Lookup::Hit(body, etag) => {
                cache.count_served();
                return Ok(respond_with_etag(req, body, &etag, true));
            }
            crate::cache::Lookup::Stale(body, etag) => break Some((body, etag)),
            crate::cache::Lookup::Miss if filling.is_none() && !waited => {
                asked_before = cache.asked_recently(&key);
                // One request reads the database for a missing key; the
                // others wait for it once, then look again (and read it
                // themselves if it was not stored, say the cache is full).
                match cache.fill_or_wait(&key, FILL_WAIT).await {
                    Some(guard) => filling = Some(guard),
                    None => waited = true,
                }
            }
            crate::cache::Lookup::Miss => break None,
        }
    };
    let generation = cache.generation();
    let computed = compute().await;
    let mut bytes = match (computed, &stale) {
        (Ok(bytes), _) => bytes,
        // The refresh failed (say the database blinked): the copy is still
        // correct for this generation.
        (Err(_), Some((body, etag))) => {
            cache.count_served();
            return Ok(respond_with_etag(req, body.clone(), etag, true));
        }
        (Err(e), None) => return Err(e),
    };
    // Kept only when it would be served again (the cache's admission rule):
    // it was there already, the URL missed before within the TTL, or other
    // requests asked for it meanwhile.
    let wanted = stale.is_some()
        || asked_before
        || waited
        || filling
            .as_ref()
            .is_some_and(crate::cache::FillGuard::wanted);
    if wanted {
        // Answers are written into buffers with room to spare; a kept one
        // holds only its bytes.
        bytes.shrink_to_fit();
    }
    let etag = etag_of(&bytes);
    let body = actix_web::web::Bytes::from(bytes);
    // Known once per generation (lists' totals are kept until then too).
    let hard_limit = match cache.next_change(generation) {
        Some(known) => known,
        None => {
            let mut conn = state.conn().await?;
            let at = presswork_db::cms::next_visibility_change(&mut conn)
                .await?
                .map(|t| {
                    let wait = (t - chrono::Utc::now()).to_std().unwrap_or_default();
                    std::time::Instant::now() + wait
                });
            cache.set_next_change(generation, at);
            at
        }
    };
    let kept = wanted && cache.put(key, body.clone(), etag.clone(), generation, hard_limit);
    cache.count_computed(kept);
    drop(filling);
    Ok(respond_with_etag(req, body, &etag, true))
}

/// How long a request waits for another one filling the same key before it
/// reads the database itself.
const FILL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

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
