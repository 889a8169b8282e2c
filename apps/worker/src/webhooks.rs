//! Delivery of one webhook event: JSON body with the event id, type,
//! timestamp and data; `Presswork-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "t.body">`; a 10 s timeout; any network error or non-2xx answer is retried
//! with backoff. Every attempt is recorded on the task's progress.
//!
//! SSRF guard: the target's addresses are resolved first and private,
//! loopback and link-local ones are refused unless configured otherwise; the
//! request is then pinned to the vetted address (no second DNS answer).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use presswork_auth::crypto::SecretBox;
use presswork_domain::tasks::DeliverWebhookPayload;
use presswork_pipeline::outbound::{self, OutboundError};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::runner::{TaskContext, TaskError};

#[derive(Clone)]
pub struct Deliverer {
    pub cipher: Option<SecretBox>,
    pub allow_private_targets: bool,
    pub timeout: Duration,
}

/// `t=<unix>,v1=<hex>` over `"{t}.{body}"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, TaskError> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).map_err(|e| TaskError::Fatal(e.to_string()))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

impl Deliverer {
    async fn vet(&self, url: &url::Url) -> Result<SocketAddr, TaskError> {
        outbound::vet(url, self.allow_private_targets)
            .await
            .map_err(|e| match e {
                OutboundError::Refused(m) => TaskError::Fatal(if self.allow_private_targets {
                    m
                } else {
                    format!("{m} (set PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS to allow)")
                }),
                OutboundError::Unavailable(m) => TaskError::Retry(m),
            })
    }

    pub async fn deliver(
        &self,
        ctx: TaskContext,
        p: DeliverWebhookPayload,
    ) -> Result<Value, TaskError> {
        let sub = {
            let mut conn = ctx.conn().await?;
            presswork_db::webhooks::find(&mut conn, p.subscription_id)
                .await
                .map_err(|e| TaskError::Retry(e.to_string()))?
        };
        let sub = match sub {
            Some(s) if s.is_active => s,
            _ => {
                return Err(TaskError::Fatal(
                    "the subscription was removed or disabled".into(),
                ));
            }
        };
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            TaskError::Retry("PRESSWORK_ENCRYPTION_KEY is not configured; cannot sign".into())
        })?;
        let secret = cipher
            .open(&sub.secret_encrypted)
            .map_err(|e| TaskError::Fatal(e.to_string()))?;
        let url =
            url::Url::parse(&sub.url).map_err(|e| TaskError::Fatal(format!("bad URL: {e}")))?;
        let addr = self.vet(&url).await?;

        let body = serde_json::to_vec(&json!({
            "id": p.event_id,
            "type": p.event_type,
            "created_at": p.occurred_at,
            "data": p.data,
        }))
        .map_err(|e| TaskError::Fatal(e.to_string()))?;
        let ts = Utc::now().timestamp();
        let sig = signature(&secret, ts, &body)?;
        let client = outbound::pinned_client(
            &url,
            addr,
            self.timeout,
            concat!("presswork-webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .map_err(|e| TaskError::Retry(e.to_string()))?;
        let started = Instant::now();
        let result = client
            .post(url.clone())
            .header("Content-Type", "application/json")
            .header("Presswork-Signature", &sig)
            .header("Presswork-Event", &p.event_type)
            .header("Presswork-Delivery", p.event_id.to_string())
            .body(body)
            .send()
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status, error) = match &result {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("the endpoint answered {}", r.status())),
            ),
            Err(e) if e.is_timeout() => (
                None,
                Some(format!("no answer within {} s", self.timeout.as_secs())),
            ),
            Err(e) if e.is_connect() => (None, Some("could not connect".to_owned())),
            Err(_) => (None, Some("request failed".to_owned())),
        };
        // Each attempt is kept on the task.
        let mut deliveries = ctx
            .task
            .progress
            .get("deliveries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        deliveries.push(json!({
            "attempt": ctx.task.attempts, "at": Utc::now(), "status": status, "duration_ms": duration_ms, "error": error,
        }));
        ctx.progress(json!({ "deliveries": deliveries })).await?;
        match error {
            None => Ok(
                json!({"delivered": true, "status": status, "attempts": ctx.task.attempts, "url": sub.url}),
            ),
            Some(e) => Err(TaskError::Retry(e)),
        }
    }
}
