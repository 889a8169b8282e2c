//! User administration (`users:admin`) and the role list (`users:read`).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;
use crate::routes::auth::UserDto;

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserDto>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUserRequest {
    #[schema(max_length = 254, pattern = r"^[^@\s]+@[^@\s]+$")]
    pub email: String,
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,50}$")]
    pub username: String,
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    pub password: SecretString,
    /// Role names; defaults to `viewer`.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "crate::routes::nullable")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    pub roles: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleDto {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleDto>,
}

#[utoipa::path(tag = "users", security(("bearer" = ["users:admin"]), ("api_key" = ["users:admin"])), params(ListQuery),
    responses((status = 200, body = UserList), (status = 401), (status = 403)))]
#[get("/api/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    _auth: Require<perm::UsersAdmin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = crate::routes::page(q.limit, q.offset, 50, 200)?;
    let (users, total) = state.auth.list_users(limit, offset).await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: users.into_iter().map(Into::into).collect(),
        total,
        limit,
        offset,
    }))
}

#[utoipa::path(tag = "users", security(("bearer" = ["users:admin"]), ("api_key" = ["users:admin"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 401), (status = 403), (status = 404)))]
#[get("/api/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _auth: Require<perm::UsersAdmin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.user_summary(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

#[utoipa::path(tag = "users", security(("bearer" = ["users:admin"]), ("api_key" = ["users:admin"])), request_body = CreateUserRequest,
    responses((status = 201, body = UserDto), (status = 401), (status = 403), (status = 409), (status = 422)))]
#[post("/api/users")]
pub async fn create_user(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::UsersAdmin>,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let roles = if body.roles.is_empty() {
        vec!["viewer".to_owned()]
    } else {
        body.roles
    };
    let user = state
        .auth
        .create_user(&body.email, &body.username, body.password, &roles)
        .await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::UserCreated,
        "user",
        user.id,
    )
    .with(serde_json::json!({ "username": user.username, "roles": user.roles }));
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Active flag, display name, roles. Deactivation revokes the user's sessions.
#[utoipa::path(tag = "users", security(("bearer" = ["users:admin"]), ("api_key" = ["users:admin"])), params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest, responses((status = 200, body = UserDto), (status = 401), (status = 403), (status = 404),
        (status = 409, description = "an administrator cannot deactivate or demote themselves"), (status = 422)))]
#[patch("/api/users/{id}")]
pub async fn update_user(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::UsersAdmin>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = id.into_inner();
    let before = state.auth.user_summary(id).await?;
    let user = state
        .auth
        .update_user(
            auth.principal.user_id,
            id,
            body.is_active,
            body.display_name,
            body.roles,
        )
        .await?;
    for ev in presswork_auth::users::audit_changes(&before, &user) {
        crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    }
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

#[utoipa::path(tag = "users", security(("bearer" = ["users:admin"]), ("api_key" = ["users:admin"])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[delete("/api/users/{id}")]
pub async fn delete_user(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::UsersAdmin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let before = state.auth.user_summary(id).await?;
    state.auth.delete_user(auth.principal.user_id, id).await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::UserDeleted,
        "user",
        id,
    )
    .with(serde_json::json!({ "username": before.username, "roles": before.roles }));
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Every role with its permissions.
#[utoipa::path(tag = "users", security(("bearer" = ["users:read"]), ("api_key" = ["users:read"])),
    responses((status = 200, body = RoleList), (status = 401), (status = 403)))]
#[get("/api/roles")]
pub async fn list_roles(
    state: web::Data<AppState>,
    _auth: Require<perm::UsersRead>,
) -> Result<HttpResponse, ApiError> {
    let roles = state
        .auth
        .list_roles()
        .await?
        .into_iter()
        .map(|(name, description, permissions)| RoleDto {
            name,
            description,
            permissions,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RoleList { roles }))
}
