//! Authentication: sign-up, first admin, login, token refresh, logout,
//! sessions, password change, 2FA, API keys and GitHub sign-in.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use presswork_auth::service::{IssuedTokens, LoginStep, NewApiKeyRequest, UserSummary};
use presswork_auth::{AuthError, totp};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Authenticated, Require, client_info, perm};
use crate::error::ApiError;

const STATE_COOKIE: &str = "pw_oauth_state";

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub totp_enabled: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<UserSummary> for UserDto {
    fn from(u: UserSummary) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            display_name: u.display_name,
            roles: u.roles,
            totp_enabled: u.totp_enabled,
            is_active: u.is_active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserDto,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(t: IssuedTokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(max_length = 254, pattern = r"^[^@\s]+@[^@\s]+$")]
    pub email: String,
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,50}$")]
    pub username: String,
    /// 12 to 1,024 characters, strong enough by zxcvbn (auth.min_password_score), not the email or username.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    pub password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Email or username.
    #[serde(alias = "email", alias = "username")]
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// Required when 2FA is on: a 6-digit code or a backup code.
    pub totp_code: Option<String>,
}

/// A sign-in that proved who the caller is (GitHub) on an account with 2FA:
/// finish it with `POST /api/auth/login/2fa`.
#[derive(Serialize, ToSchema)]
pub struct SecondFactorChallenge {
    /// Always true: no session exists yet.
    pub second_factor_required: bool,
    /// Send it back with a code; it opens nothing by itself.
    pub ticket: String,
    /// Seconds the ticket stays valid.
    pub expires_in: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    /// The `ticket` of the challenge.
    pub ticket: String,
    /// A 6-digit code from the authenticator, or a backup code.
    pub totp_code: String,
}

/// Every answer that hands out tokens: 200 with them, or 202 with a
/// second-factor challenge; never cached.
fn sign_in_answer(step: LoginStep, cookie: Option<Cookie<'static>>) -> HttpResponse {
    let mut res = match &step {
        LoginStep::SignedIn(_) => HttpResponse::Ok(),
        LoginStep::SecondFactor { .. } => HttpResponse::Accepted(),
    };
    res.insert_header(("Cache-Control", "no-store"));
    if let Some(cookie) = cookie {
        res.cookie(cookie);
    }
    match step {
        LoginStep::SignedIn(tokens) => res.json(TokenResponse::from(tokens)),
        LoginStep::SecondFactor { ticket } => res.json(SecondFactorChallenge {
            second_factor_required: true,
            ticket,
            expires_in: presswork_auth::tokens::TICKET_TTL_SECS,
        }),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    pub new_password: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the token making this request.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionDto>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// Base32 secret, for manual entry.
    pub secret: String,
    pub otpauth_url: String,
    /// QR code of `otpauth_url`, as SVG markup rendered by the server.
    pub qr_svg: String,
    /// The same QR code as a data URL, for an `<img src>`.
    pub qr_data_url: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TotpReauthRequest {
    /// A current TOTP code or a backup code...
    pub code: Option<String>,
    /// ...or the account password.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
}

#[derive(Serialize, ToSchema)]
pub struct BackupCodesResponse {
    /// Shown once; each works once.
    pub backup_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Permissions the key holds; each must be held by its creator.
    #[schema(schema_with = permissions_schema)]
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Addresses or CIDR blocks the key may be used from; empty means any.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    #[schema(minimum = 1)]
    pub rate_limit_per_hour: Option<i32>,
}

/// One or more permission names.
pub(crate) fn permissions_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::schemas::string_enum(
            presswork_domain::permissions::ALL,
        ))
        .min_items(Some(1))
        .build()
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub name: String,
    /// Enough of the key to recognise it.
    pub key_prefix: String,
    pub permissions: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub rate_limit_per_hour: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub owner_id: Uuid,
}

impl From<presswork_db::models::api_key::ApiKey> for ApiKeyDto {
    fn from(k: presswork_db::models::api_key::ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            key_prefix: k.key_prefix,
            permissions: k.permissions.into_iter().flatten().collect(),
            allowed_ips: k.allowed_ips.into_iter().flatten().collect(),
            rate_limit_per_hour: k.rate_limit_per_hour,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            created_at: k.created_at,
            owner_id: k.owner_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKeyResponse {
    /// The full key. Shown only now; store it safely.
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKeyDto,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyDto>,
}

#[derive(Deserialize, IntoParams)]
pub struct GithubCallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by GitHub when the user declines.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct GithubCallbackRequest {
    pub code: String,
    pub state: String,
}

/// Self-service sign-up (only when `auth.allow_signup` is on). New users are viewers.
#[utoipa::path(tag = "auth", security(()), request_body = RegisterRequest,
    responses((status = 201, body = UserDto), (status = 403, description = "Sign-up disabled"), (status = 409), (status = 422)))]
#[post("/api/auth/register")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = state
        .auth
        .register(&body.email, &body.username, body.password)
        .await?;
    let ctx = presswork_db::audit::Context::new(
        presswork_db::audit::Actor::user(user.id, None),
        &crate::auth::audit_request(&req),
    );
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::UserCreated,
        "user",
        user.id,
    )
    .with(serde_json::json!({ "username": user.username, "roles": user.roles, "via": "sign-up" }));
    crate::routes::audit::record_as(&state, &ctx, ev).await;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Creates the first administrator; works only while no user exists (409 afterwards).
#[utoipa::path(tag = "auth", security(()), request_body = RegisterRequest,
    responses((status = 201, body = UserDto), (status = 409, description = "Already initialised"), (status = 422)))]
#[post("/api/auth/init-admin")]
pub async fn init_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = state
        .auth
        .init_admin(&body.email, &body.username, body.password)
        .await?;
    let ctx = presswork_db::audit::Context::new(
        presswork_db::audit::Actor::user(user.id, None),
        &crate::auth::audit_request(&req),
    );
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::UserCreated,
        "user",
        user.id,
    )
    .with(
        serde_json::json!({ "username": user.username, "roles": user.roles, "via": "init-admin" }),
    );
    crate::routes::audit::record_as(&state, &ctx, ev).await;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Password login. Same 401 whether or not the user exists; 429 with
/// Retry-After once the account is locked or the address sends too many.
#[utoipa::path(tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_credentials, totp_required or invalid_totp"),
              (status = 429, description = "account_locked or rate_limited")))]
#[post("/api/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let tokens = state
        .auth
        .login(
            &body.login,
            body.password,
            body.totp_code.as_deref(),
            &client_info(&req),
        )
        .await?;
    Ok(sign_in_answer(LoginStep::SignedIn(tokens), None))
}

/// The second step of a sign-in that answered 202 (GitHub on an account with
/// 2FA): the challenge's ticket and a TOTP or backup code. Wrong codes count
/// towards the account's lockout, as at login.
#[utoipa::path(tag = "auth", security(()), request_body = SecondFactorRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_token (ticket), token_expired or invalid_totp"),
              (status = 429, description = "account_locked or rate_limited")))]
#[post("/api/auth/login/2fa")]
pub async fn login_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SecondFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .auth
        .login_second_factor(&body.ticket, &body.totp_code, &client_info(&req))
        .await?;
    Ok(sign_in_answer(LoginStep::SignedIn(tokens), None))
}

/// Rotates a refresh token. Reusing an old one revokes the whole session.
#[utoipa::path(tag = "auth", security(()), request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_refresh_token or refresh_token_reused")))]
#[post("/api/auth/refresh")]
pub async fn refresh_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .auth
        .refresh(&body.refresh_token, &client_info(&req))
        .await?;
    Ok(sign_in_answer(LoginStep::SignedIn(tokens), None))
}

/// Revokes the current session; its access tokens stop working at once.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = MessageResponse), (status = 401)))]
#[post("/api/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sid = auth.0.session_id().ok_or_else(|| {
        ApiError::bad_request(
            "not_a_session",
            "API keys have no session; revoke the key instead",
        )
    })?;
    state.auth.logout(sid).await?;
    Ok(HttpResponse::Ok().json(MessageResponse {
        message: "logged out",
    }))
}

/// The calling user.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("api_key" = [])), responses((status = 200, body = UserDto), (status = 401)))]
#[get("/api/auth/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.user_summary(auth.0.user_id).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

/// The original review console's session check: who the credential belongs
/// to and when it stops working.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    pub user: VerifiedUser,
    /// When the access token (or API key, or console session) expires;
    /// `null` for an API key that never does.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedUser {
    pub user_id: Uuid,
    pub username: String,
    pub email: String,
    /// The display name, else the username.
    pub name: String,
    /// The picture of the user's author profile, if it has one.
    pub avatar_url: Option<String>,
}

/// Whether a credential is valid, in the shape the original review console
/// reads (`data.user`); 401 otherwise. `/api/auth/me` answers the full user.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = VerifyResponse), (status = 401)))]
#[get("/api/auth/verify")]
pub async fn verify_session(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.user_summary(auth.0.user_id).await?;
    let mut conn = state.conn().await?;
    let profile = presswork_db::models::author::profile_of_user(&mut conn, user.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(VerifyResponse {
            expires_at: auth.0.expires_at,
            user: VerifiedUser {
                user_id: user.id,
                name: user.display_name.unwrap_or_else(|| user.username.clone()),
                username: user.username,
                email: user.email,
                avatar_url: profile.and_then(|a| a.avatar_url),
            },
        }))
}

/// Changes the password; every other session of the user is revoked.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 200, body = MessageResponse), (status = 401), (status = 422)))]
#[post("/api/auth/change-password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .auth
        .change_password(
            auth.0.user_id,
            auth.0.session_id(),
            body.current_password,
            body.new_password,
        )
        .await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::PasswordChanged,
        "user",
        auth.0.user_id,
    );
    crate::routes::audit::record(&state, &req, &auth.0, ev).await;
    Ok(HttpResponse::Ok().json(MessageResponse {
        message: "password changed",
    }))
}

/// The user's live sessions.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = SessionList), (status = 401)))]
#[get("/api/auth/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state
        .auth
        .list_sessions(auth.0.user_id, auth.0.session_id())
        .await?
        .into_iter()
        .map(|(s, current)| SessionDto {
            current,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { sessions }))
}

/// Revokes one of the user's sessions.
#[utoipa::path(tag = "auth", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
#[delete("/api/auth/sessions/{id}")]
pub async fn delete_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.auth.revoke_session(auth.0.user_id, id).await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::SessionRevoked,
        "session",
        id,
    );
    crate::routes::audit::record(&state, &req, &auth.0, ev).await;
    Ok(HttpResponse::NoContent().finish())
}

fn user_of(auth: &Authenticated) -> Result<Uuid, ApiError> {
    match auth.0.kind {
        presswork_auth::PrincipalKind::Session { .. } => Ok(auth.0.user_id),
        presswork_auth::PrincipalKind::ApiKey { .. } => Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "session_required",
            "2FA changes need a logged-in session, not an API key",
        )),
    }
}

/// Starts 2FA enrolment: secret, otpauth URL and a locally rendered QR code.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = TotpSetupResponse), (status = 401), (status = 409)))]
#[post("/api/auth/2fa/setup")]
pub async fn setup_totp(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let setup = state.auth.totp_setup(user_of(&auth)?).await?;
    let p = setup.provisioning;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TotpSetupResponse {
            qr_data_url: totp::svg_data_url(&p.qr_svg),
            secret: p.secret_base32,
            otpauth_url: p.otpauth_url,
            qr_svg: p.qr_svg,
        }))
}

/// Enables 2FA with a code from the authenticator; returns 10 backup codes.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = TotpCodeRequest,
    responses((status = 200, body = BackupCodesResponse), (status = 401), (status = 409)))]
#[post("/api/auth/2fa/verify")]
pub async fn verify_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let codes = state.auth.totp_enable(user_of(&auth)?, &body.code).await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::TwoFactorEnabled,
        "user",
        auth.0.user_id,
    );
    crate::routes::audit::record(&state, &req, &auth.0, ev).await;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BackupCodesResponse {
            backup_codes: codes,
        }))
}

/// Disables 2FA; needs a valid code or the password.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = TotpReauthRequest,
    responses((status = 200, body = MessageResponse), (status = 401), (status = 409)))]
#[post("/api/auth/2fa/disable")]
pub async fn disable_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<TotpReauthRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .auth
        .totp_disable(user_of(&auth)?, body.code.as_deref(), body.password)
        .await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::TwoFactorDisabled,
        "user",
        auth.0.user_id,
    );
    crate::routes::audit::record(&state, &req, &auth.0, ev).await;
    Ok(HttpResponse::Ok().json(MessageResponse {
        message: "two-factor authentication disabled",
    }))
}

/// Replaces the backup codes; needs a valid code or the password.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = TotpReauthRequest,
    responses((status = 200, body = BackupCodesResponse), (status = 401), (status = 409)))]
#[post("/api/auth/2fa/backup-codes")]
pub async fn regenerate_backup_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<TotpReauthRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let codes = state
        .auth
        .regenerate_backup_codes(user_of(&auth)?, body.code.as_deref(), body.password)
        .await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::BackupCodesRegenerated,
        "user",
        auth.0.user_id,
    );
    crate::routes::audit::record(&state, &req, &auth.0, ev).await;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BackupCodesResponse {
            backup_codes: codes,
        }))
}

/// Creates an API key; the full key is in this response only.
#[utoipa::path(tag = "auth", security(("bearer" = ["api_keys:manage"]), ("api_key" = ["api_keys:manage"])), request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKeyResponse), (status = 401), (status = 403), (status = 422)))]
#[post("/api/auth/api-keys")]
pub async fn create_api_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::ApiKeysManage>,
    body: web::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created = state
        .auth
        .create_api_key(
            &auth.principal,
            NewApiKeyRequest {
                name: body.name,
                permissions: body.permissions,
                expires_at: body.expires_at,
                allowed_ips: body.allowed_ips,
                rate_limit_per_hour: body.rate_limit_per_hour,
            },
        )
        .await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::ApiKeyCreated,
        "api_key",
        created.row.id,
    )
    .with(serde_json::json!({
        "name": created.row.name,
        "permissions": created.row.permissions,
    }));
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiKeyResponse {
            key: created.key,
            api_key: created.row.into(),
        }))
}

/// Lists keys (own; everyone's with `api_keys:admin`). Never the secret.
#[utoipa::path(tag = "auth", security(("bearer" = ["api_keys:manage"]), ("api_key" = ["api_keys:manage"])),
    responses((status = 200, body = ApiKeyList), (status = 401), (status = 403)))]
#[get("/api/auth/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    auth: Require<perm::ApiKeysManage>,
) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.list_api_keys(&auth.principal).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        api_keys: keys.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a key (own; anyone's with `api_keys:admin`).
#[utoipa::path(tag = "auth", security(("bearer" = ["api_keys:manage"]), ("api_key" = ["api_keys:manage"])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/auth/api-keys/{id}")]
pub async fn revoke_api_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::ApiKeysManage>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.auth.revoke_api_key(&auth.principal, id).await?;
    let ev = presswork_db::audit::Event::new(
        presswork_domain::status::AuditAction::ApiKeyRevoked,
        "api_key",
        id,
    );
    crate::routes::audit::record(&state, &req, &auth.principal, ev).await;
    Ok(HttpResponse::NoContent().finish())
}

fn github(state: &AppState) -> Result<&presswork_auth::github::GithubClient, ApiError> {
    state.auth.github().ok_or_else(|| {
        ApiError::from(AuthError::Unavailable(
            "GitHub sign-in is not configured".into(),
        ))
    })
}

/// Redirects to GitHub's consent page with a `state` bound to this browser
/// by a short-lived HttpOnly cookie.
#[utoipa::path(tag = "auth", security(()), responses((status = 302, description = "To GitHub"), (status = 503, description = "Not configured")))]
#[get("/api/auth/github/login")]
pub async fn github_login(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let gh = github(&state)?;
    let oauth_state = gh.new_state()?;
    let url = gh.authorize_url(&oauth_state)?;
    let cookie = Cookie::build(STATE_COOKIE, oauth_state)
        .path("/api/auth/github")
        .http_only(true)
        .secure(crate::auth::is_https(&req))
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(
            presswork_auth::github::STATE_TTL_SECS,
        ))
        .finish();
    Ok(HttpResponse::Found()
        .insert_header(("Location", url))
        .cookie(cookie)
        .finish())
}

fn check_state(
    req: &HttpRequest,
    gh: &presswork_auth::github::GithubClient,
    state: &str,
    require_cookie: bool,
) -> Result<(), ApiError> {
    gh.verify_state(state)?;
    match req.cookie(STATE_COOKIE) {
        Some(c)
            if presswork_auth::crypto::constant_time_eq(c.value().as_bytes(), state.as_bytes()) =>
        {
            Ok(())
        }
        Some(_) => Err(AuthError::InvalidOAuthState.into()),
        None if require_cookie => Err(AuthError::InvalidOAuthState.into()),
        None => Ok(()),
    }
}

/// GitHub's redirect target: verifies state against the cookie, exchanges the
/// code, finds or creates the user and answers with tokens, as login does;
/// for an account with 2FA, 202 with a ticket for `POST /api/auth/login/2fa`.
#[utoipa::path(tag = "auth", security(()), params(GithubCallbackQuery),
    responses((status = 200, body = TokenResponse), (status = 202, description = "The account has 2FA: finish with POST /api/auth/login/2fa", body = SecondFactorChallenge),
              (status = 400, description = "invalid_state or oauth_denied"), (status = 403), (status = 503)))]
#[get("/api/auth/github/callback")]
pub async fn github_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<GithubCallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let gh = github(&state)?;
    let q = query.into_inner();
    if let Some(error) = q.error {
        return Err(AuthError::OAuthDenied(format!(
            "{error}: {}",
            q.error_description.unwrap_or_default()
        ))
        .into());
    }
    let oauth_state = q.state.ok_or(AuthError::InvalidOAuthState)?;
    check_state(&req, gh, &oauth_state, true)?;
    let code = q
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("invalid_query", "code is required"))?;
    let step = state.auth.github_sign_in(&code, &client_info(&req)).await?;
    let mut clear = Cookie::named(STATE_COOKIE);
    clear.set_path("/api/auth/github");
    clear.make_removal();
    Ok(sign_in_answer(step, Some(clear)))
}

/// The same exchange for single-page apps that receive the redirect themselves.
#[utoipa::path(tag = "auth", security(()), request_body = GithubCallbackRequest,
    responses((status = 200, body = TokenResponse), (status = 202, description = "The account has 2FA: finish with POST /api/auth/login/2fa", body = SecondFactorChallenge),
              (status = 400, description = "invalid_state or oauth_denied"), (status = 403), (status = 503)))]
#[post("/api/auth/github-callback")]
pub async fn github_callback_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<GithubCallbackRequest>,
) -> Result<HttpResponse, ApiError> {
    let gh = github(&state)?;
    check_state(&req, gh, &body.state, false)?;
    let step = state
        .auth
        .github_sign_in(&body.code, &client_info(&req))
        .await?;
    Ok(sign_in_answer(step, None))
}
