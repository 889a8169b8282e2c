//! Runtime settings. Secrets are stored encrypted and only ever shown masked.

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use presswork_auth::settings::{SettingInput, SettingView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Serialize, ToSchema)]
pub struct SettingDto {
    pub key: String,
    /// Absent for secrets.
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
    /// For secrets only: e.g. `sk-…abcd`.
    pub masked: Option<String>,
    /// string, number, boolean, json or secret.
    pub data_type: String,
    pub category: String,
    pub is_secret: bool,
    pub description: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

impl From<SettingView> for SettingDto {
    fn from(v: SettingView) -> Self {
        Self {
            key: v.key,
            value: v.value,
            masked: v.masked,
            data_type: v.data_type,
            category: v.category,
            is_secret: v.is_secret,
            description: v.description,
            updated_by: v.updated_by,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct SettingsQuery {
    pub category: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SettingList {
    pub settings: Vec<SettingDto>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct PutSettingRequest {
    #[schema(value_type = Object)]
    pub value: Value,
    /// Defaults to the stored type, or is inferred from the value.
    #[schema(schema_with = data_type_schema)]
    pub data_type: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkSettingItem {
    #[schema(pattern = "^[a-z0-9][a-z0-9_.-]{0,127}$")]
    pub key: String,
    #[serde(flatten)]
    pub setting: PutSettingRequest,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkSettingsRequest {
    pub settings: Vec<BulkSettingItem>,
}

fn data_type_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_enum(presswork_auth::settings::TYPES)
}

fn input(r: PutSettingRequest) -> SettingInput {
    SettingInput {
        value: r.value,
        data_type: r.data_type,
        category: r.category,
        description: r.description,
    }
}

#[utoipa::path(tag = "settings", security(("bearer" = ["settings:read"]), ("api_key" = ["settings:read"])), params(SettingsQuery),
    responses((status = 200, body = SettingList), (status = 401), (status = 403)))]
#[get("/api/settings")]
pub async fn list_settings(
    state: web::Data<AppState>,
    _auth: Require<perm::SettingsRead>,
    q: web::Query<SettingsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = crate::routes::page(q.limit, q.offset, 50, 500)?;
    let (rows, total) = state
        .settings
        .list(q.category.as_deref(), limit, offset)
        .await?;
    Ok(HttpResponse::Ok().json(SettingList {
        settings: rows.into_iter().map(Into::into).collect(),
        total,
        limit,
        offset,
    }))
}

#[utoipa::path(tag = "settings", security(("bearer" = ["settings:read"]), ("api_key" = ["settings:read"])), params(("key" = String, Path)),
    responses((status = 200, body = SettingDto), (status = 401), (status = 403), (status = 404)))]
#[get("/api/settings/{key}")]
pub async fn get_setting(
    state: web::Data<AppState>,
    _auth: Require<perm::SettingsRead>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SettingDto::from(state.settings.get(&key).await?)))
}

#[utoipa::path(tag = "settings", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])), params(("key" = String, Path, pattern = "^[a-z0-9][a-z0-9_.-]{0,127}$")),
    request_body = PutSettingRequest, responses((status = 200, body = SettingDto), (status = 401), (status = 403), (status = 422)))]
#[put("/api/settings/{key}")]
pub async fn put_setting(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::SettingsWrite>,
    key: web::Path<String>,
    body: web::Json<PutSettingRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .settings
        .put(&key, input(body.into_inner()), Some(auth.principal.user_id))
        .await?;
    tracing::info!(setting.key = %view.key, "setting written");
    let dto = SettingDto::from(view);
    crate::routes::audit::record(&state, &req, &auth.principal, setting_changed(&dto)).await;
    Ok(HttpResponse::Ok().json(dto))
}

/// Writes several settings at once: all or nothing.
#[utoipa::path(tag = "settings", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])),
    request_body = BulkSettingsRequest, responses((status = 200, body = SettingList), (status = 401), (status = 403), (status = 422)))]
#[put("/api/settings")]
pub async fn put_settings(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::SettingsWrite>,
    body: web::Json<BulkSettingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<(String, SettingInput)> = body
        .into_inner()
        .settings
        .into_iter()
        .map(|i| (i.key, input(i.setting)))
        .collect();
    let n = items.len() as i64;
    let rows = state
        .settings
        .put_many(items, Some(auth.principal.user_id))
        .await?;
    let settings: Vec<SettingDto> = rows.into_iter().map(Into::into).collect();
    for dto in &settings {
        crate::routes::audit::record(&state, &req, &auth.principal, setting_changed(dto)).await;
    }
    Ok(HttpResponse::Ok().json(SettingList {
        settings,
        total: n,
        limit: n,
        offset: 0,
    }))
}

#[utoipa::path(tag = "settings", security(("bearer" = ["settings:write"]), ("api_key" = ["settings:write"])), params(("key" = String, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/settings/{key}")]
pub async fn delete_setting(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::SettingsWrite>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.settings.delete(&key).await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::SettingDeleted,
        "setting",
        key.as_str(),
    );
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit event of a written setting: its new value, or for a secret
/// only that it changed (not even the masked form).
fn setting_changed(dto: &SettingDto) -> presswork_db::audit::Event {
    let summary = if dto.is_secret {
        serde_json::json!({ "is_secret": true })
    } else {
        serde_json::json!({ "is_secret": false, "value": dto.value })
    };
    presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::SettingChanged,
        "setting",
        &dto.key,
    )
    .with(summary)
}
