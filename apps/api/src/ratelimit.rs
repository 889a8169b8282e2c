//! Request rate limits that hold across API processes: per client IP for
//! anonymous callers, per user or API key when authenticated, and an optional
//! global cap, each per one-minute window. Each process counts in memory
//! and, at most every `flush` interval, adds its counts to
//! `rate_limit_counters` and reads back the totals of every process. A limit
//! can therefore be overshot by what the other processes admit within one
//! flush interval; the hot path itself never waits for the database except
//! on the one request per interval that flushes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use chrono::{DateTime, TimeZone, Utc};
use presswork_auth::principal::{Principal, PrincipalKind};

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per minute per client IP without credentials (0: no limit).
    pub anonymous: u64,
    /// Requests per minute per user or API key (0: no limit).
    pub principal: u64,
    /// Requests per minute for the whole service (0: no limit).
    pub global: u64,
    pub flush: Duration,
}

#[derive(Default)]
struct Counter {
    /// Admitted here and not yet added to the shared table.
    unflushed: u64,
    /// The shared total as last read (includes what this process flushed).
    shared: u64,
}

struct Window {
    /// Unix minute.
    minute: i64,
    counters: HashMap<String, Counter>,
    last_flush: Instant,
}

pub struct SharedLimiter {
    limits: Limits,
    window: Mutex<Window>,
    flushing: AtomicBool,
}

const GLOBAL: &str = "global";

fn minute_now() -> i64 {
    Utc::now().timestamp().div_euclid(60)
}

impl SharedLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            window: Mutex::new(Window {
                minute: minute_now(),
                counters: HashMap::new(),
                last_flush: Instant::now(),
            }),
            flushing: AtomicBool::new(false),
        }
    }

    fn enabled(&self) -> bool {
        self.limits.anonymous > 0 || self.limits.principal > 0 || self.limits.global > 0
    }

    /// Counts one request; `Err(seconds)` when a limit is reached. The
    /// second value says whether this request should flush.
    fn admit(&self, bucket: &str, limit: u64) -> (Result<(), u64>, bool) {
        let now_min = minute_now();
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.minute != now_min {
            w.minute = now_min;
            w.counters.clear();
        }
        let retry = u64::try_from((now_min + 1) * 60 - Utc::now().timestamp())
            .unwrap_or(1)
            .max(1);
        let checks = [(bucket, limit), (GLOBAL, self.limits.global)];
        for (key, lim) in checks {
            if lim == 0 {
                continue;
            }
            let c = w.counters.entry(key.to_owned()).or_default();
            if c.shared + c.unflushed >= lim {
                return (Err(retry), false);
            }
        }
        for (key, lim) in checks {
            if lim > 0 {
                w.counters.entry(key.to_owned()).or_default().unflushed += 1;
            }
        }
        let due = w.last_flush.elapsed() >= self.limits.flush
            && !self.flushing.swap(true, Ordering::AcqRel);
        (Ok(()), due)
    }

    /// Adds local counts to the shared table and reads the totals back.
    pub async fn flush(&self, state: &AppState) {
        let (minute, buckets, deltas) = {
            let mut w = self
                .window
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            w.last_flush = Instant::now();
            let mut buckets = Vec::new();
            let mut deltas = Vec::new();
            for (k, c) in &mut w.counters {
                // Every bucket is sent, so its shared total is refreshed.
                buckets.push(k.clone());
                deltas.push(i64::try_from(std::mem::take(&mut c.unflushed)).unwrap_or(i64::MAX));
            }
            (w.minute, buckets, deltas)
        };
        let window_start: DateTime<Utc> = Utc
            .timestamp_opt(minute * 60, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let result = async {
            let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
            let totals = presswork_db::rate_limits::add(&mut conn, window_start, &buckets, &deltas)
                .await
                .map_err(|e| e.to_string())?;
            if minute % 5 == 0 {
                let _ = presswork_db::rate_limits::prune(
                    &mut conn,
                    window_start - chrono::Duration::minutes(2),
                )
                .await;
            }
            Ok::<_, String>(totals)
        }
        .await;
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(totals) if w.minute == minute => {
                for t in totals {
                    if let Some(c) = w.counters.get_mut(&t.bucket) {
                        c.shared = u64::try_from(t.hits).unwrap_or(0);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                // Keep the counts for the next flush; limits stay local meanwhile.
                tracing::warn!(error = %e, "rate limit counters not shared");
                if w.minute == minute {
                    for (k, d) in buckets.iter().zip(deltas) {
                        if let Some(c) = w.counters.get_mut(k) {
                            c.unflushed += u64::try_from(d).unwrap_or(0);
                        }
                    }
                }
            }
        }
        self.flushing.store(false, Ordering::Release);
    }
}

/// Health checks are never limited (load balancers poll them).
fn exempt(path: &str) -> bool {
    matches!(path, "/livez" | "/readyz" | "/api/health")
}

pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limiter = &state.rate_limiter;
    if !limiter.enabled() || exempt(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let principal = req.extensions().get::<Principal>().map(|p| match p.kind {
        PrincipalKind::Session { .. } => format!("user:{}", p.user_id),
        PrincipalKind::ApiKey { key_id } => format!("key:{key_id}"),
    });
    let (bucket, limit) = match principal {
        Some(bucket) => (bucket, limiter.limits.principal),
        None => (
            format!(
                "ip:{}",
                crate::auth::client_ip(req.request())
                    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
            ),
            limiter.limits.anonymous,
        ),
    };
    let (admitted, flush) = limiter.admit(&bucket, limit);
    if flush {
        limiter.flush(&state).await;
    }
    match admitted {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(retry) => Ok(req.error_response(
            ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
            .retry_after(retry),
        )),
    }
}
