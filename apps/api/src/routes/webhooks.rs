//! Outgoing webhook subscriptions, and the incoming `content-created`
//! webhook kept for compatibility with the earlier system.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use presswork_domain::tasks::WEBHOOK_EVENTS;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateSubscriptionRequest {
    /// http(s) endpoint receiving `POST`s: a host (not a private, loopback or
    /// link-local address unless the deployment allows them), a valid port,
    /// no credentials.
    #[schema(max_length = 2048, pattern = r"^https?://[^/\s?#:@\\][^\s@]*$")]
    pub url: String,
    /// One or more of the events.
    #[schema(min_items = 1, schema_with = events_schema)]
    pub events: Vec<String>,
    /// Signing secret (at least 16 characters); generated when absent.
    /// Returned once.
    #[schema(min_length = 16)]
    pub secret: Option<String>,
    #[serde(default)]
    pub description: String,
}

fn events_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::schemas::string_enum(WEBHOOK_EVENTS))
        .min_items(Some(1))
        .build()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<presswork_db::webhooks::Subscription> for SubscriptionDto {
    fn from(s: presswork_db::webhooks::Subscription) -> Self {
        Self {
            id: s.id,
            url: s.url,
            events: s.events.into_iter().flatten().collect(),
            description: s.description,
            is_active: s.is_active,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionDto,
    /// Verify deliveries with it: `Presswork-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
    /// Shown only now.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionDto>,
}

#[utoipa::path(tag = "webhooks", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])), request_body = CreateSubscriptionRequest,
    responses((status = 201, body = CreatedSubscription), (status = 401), (status = 403), (status = 422), (status = 503)))]
#[post("/api/webhooks/subscriptions")]
pub async fn create_subscription(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::SettingsWrite>,
    body: web::Json<CreateSubscriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let url = presswork_domain::net::check_webhook_url(
        &b.url,
        state.config.worker.webhooks_allow_private_targets,
    )?;
    if b.events.is_empty() {
        return Err(ApiError::validation(
            "events",
            "must list at least one event",
        ));
    }
    if let Some(bad) = b
        .events
        .iter()
        .find(|e| !WEBHOOK_EVENTS.contains(&e.as_str()))
    {
        return Err(ApiError::validation(
            "events",
            format!("unknown event '{bad}'"),
        ));
    }
    let secret = match b.secret {
        Some(s) if s.len() < 16 => {
            return Err(ApiError::validation(
                "secret",
                "must be at least 16 characters",
            ));
        }
        Some(s) => s,
        None => format!(
            "whsec_{}",
            presswork_auth::crypto::random_token::<24>().map_err(ApiError::internal)?
        ),
    };
    let cipher = state.auth.cipher().ok_or_else(|| {
        ApiError::service_unavailable(
            "encryption_key_missing",
            "PRESSWORK_ENCRYPTION_KEY is not configured; secrets cannot be stored",
        )
    })?;
    let sealed = cipher.seal(secret.as_bytes()).map_err(ApiError::internal)?;
    let mut conn = state.conn().await?;
    let sub = presswork_db::webhooks::create(
        &mut conn,
        url.as_str(),
        &b.events,
        &sealed,
        b.description.trim(),
        Some(auth.principal.user_id),
    )
    .await?;
    // The URL's host and the events; never the signing secret.
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::WebhookCreated,
        "webhook_subscription",
        sub.id,
    )
    .with(serde_json::json!({ "host": url.host_str(), "events": b.events }));
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedSubscription {
            subscription: sub.into(),
            secret,
        }))
}

#[utoipa::path(tag = "webhooks", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])),
    responses((status = 200, body = SubscriptionList), (status = 401), (status = 403)))]
#[get("/api/webhooks/subscriptions")]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    _auth: Require<perm::SettingsWrite>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let subs = presswork_db::webhooks::list(&mut conn).await?;
    Ok(HttpResponse::Ok().json(SubscriptionList {
        subscriptions: subs.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(tag = "webhooks", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/webhooks/subscriptions/{id}")]
pub async fn delete_subscription(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::SettingsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    if presswork_db::webhooks::delete(&mut conn, id).await? {
        drop(conn);
        let ev = presswork_db::audit::Event::new(
            presswork_domain::status::AuditAction::WebhookDeleted,
            "webhook_subscription",
            id,
        );
        crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no such subscription"))
    }
}

/// The setting holding the shared secret for incoming webhooks.
pub const INCOMING_SECRET_SETTING: &str = "webhooks.incoming_secret";

#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    pub received: bool,
    /// Whether a signature was required and verified.
    pub verified: bool,
}

/// Accepted for compatibility with the earlier system's notifier. When the
/// secret setting `webhooks.incoming_secret` is set, the body must carry a
/// valid `Presswork-Signature` (same scheme as outgoing webhooks, within 5
/// minutes); otherwise 401. The event is logged; nothing else is done with it.
#[utoipa::path(tag = "webhooks", security(()), request_body(content = Object),
    responses((status = 202, body = Received), (status = 401, description = "Missing or invalid signature"), (status = 400), (status = 422)))]
#[post("/api/webhooks/content-created")]
pub async fn content_created(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let secret = state.settings.secret(INCOMING_SECRET_SETTING).await?;
    let verified = match &secret {
        None => false,
        Some(secret) => {
            use secrecy::ExposeSecret;
            let header = req
                .headers()
                .get("presswork-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            verify_signature(
                secret.expose_secret().as_bytes(),
                header,
                &body,
                Utc::now().timestamp(),
            )?;
            true
        }
    };
    let event: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("body is not JSON: {e}")))?;
    if !event.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let kind = event
        .get("event")
        .or_else(|| event.get("type"))
        .and_then(|v| v.as_str())
        .unwrap_or("content-created")
        .to_owned();
    tracing::info!(webhook.event = %kind, verified, "incoming content-created webhook");
    Ok(HttpResponse::Accepted().json(Received {
        received: true,
        verified,
    }))
}

fn verify_signature(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), ApiError> {
    let unauthorized = |m: &str| {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "invalid_signature",
            m.to_owned(),
        )
    };
    let mut ts = None;
    let mut sig = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = v.parse::<i64>().ok(),
            Some(("v1", v)) => sig = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(ts), Some(sig)) = (ts, sig) else {
        return Err(unauthorized(
            "a Presswork-Signature header (t=<unix>,v1=<hex>) is required",
        ));
    };
    if (now - ts).abs() > 300 {
        return Err(unauthorized(
            "the signature timestamp is more than 5 minutes away",
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(ApiError::internal)?;
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| unauthorized("the signature does not match the body"))
}
