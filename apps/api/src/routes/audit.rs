//! The audit trail: who did what, when, from where (`presswork_db::audit`).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use presswork_db::audit::{self, AuditEvent, Filter};
use presswork_domain::status::AuditAction;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

/// At most this many events per page.
const MAX_PAGE: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Events of this user (directly or through one of their API keys).
    pub actor: Option<Uuid>,
    #[param(schema_with = action_schema)]
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// From this time on (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// `next_cursor` of the page before.
    #[param(minimum = 1)]
    pub cursor: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

fn action_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(<AuditAction as presswork_domain::status::TextEnum>::names())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventDto {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `user`, `api_key`, `system` or `anonymous`.
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    /// The name tried at a failed sign-in; what the system was (scheduler, cli).
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// A small before/after summary; never a secret.
    #[schema(value_type = Object)]
    pub summary: Value,
}

impl From<AuditEvent> for AuditEventDto {
    fn from(e: AuditEvent) -> Self {
        AuditEventDto {
            id: e.id,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_user_id: e.actor_user_id,
            actor_api_key_id: e.actor_api_key_id,
            actor_label: e.actor_label,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            request_id: e.request_id,
            client_addr: e.client_addr,
            summary: e.summary,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEventDto>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next_cursor: Option<i64>,
}

/// The audit trail, newest first, filtered; pages by cursor.
#[utoipa::path(tag = "users", security(("bearer" = ["audit:read"]), ("api_key" = ["audit:read"])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401), (status = 403), (status = 422)))]
#[get("/api/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    _auth: Require<perm::AuditRead>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    if q.cursor.is_some_and(|c| c < 1) {
        return Err(ApiError::validation(
            "cursor",
            "must be a next_cursor this endpoint gave",
        ));
    }
    let filter = Filter {
        actor: q.actor,
        action: q.action.map(|a| a.parse::<AuditAction>()).transpose()?,
        target_type: q.target_type,
        target_id: q.target_id,
        since: q.since,
        until: q.until,
        before: q.cursor,
    };
    let mut conn = state.conn().await?;
    let (events, next_cursor) = audit::list(&mut conn, &filter, limit).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        events: events.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Records an action the API just did for `principal`. The action stands
/// whatever happens here: a failure to record is logged as an error (and
/// counted by the log pipeline), not answered as a failed request.
pub(crate) async fn record(
    state: &AppState,
    req: &actix_web::HttpRequest,
    principal: &presswork_auth::Principal,
    ev: audit::Event,
) {
    record_as(
        state,
        &principal.audit_context(&crate::auth::audit_request(req)),
        ev,
    )
    .await;
}

/// [`record`] for an actor that is not a signed-in caller (a new account).
pub(crate) async fn record_as(state: &AppState, ctx: &audit::Context, ev: audit::Event) {
    let action = ev.action;
    let recorded = match state.conn().await {
        Ok(mut conn) => audit::record(&mut conn, ctx, ev)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.message),
    };
    if let Err(e) = recorded {
        tracing::error!(action = action.as_str(), error = %e, "an action could not be recorded in the audit trail");
    }
}
