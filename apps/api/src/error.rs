//! The API's one error type and the JSON envelope every error uses:
//! `{"error": {"code": "snake_case", "message": "...", "details": ...}}`.

use std::borrow::Cow;
use std::fmt;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use presswork_auth::AuthError;
use presswork_db::DbError;
use presswork_domain::DomainError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub details: Option<Box<Value>>,
    pub retry_after_s: Option<u64>,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
    /// The cause of an internal error; logged, never sent.
    source: Option<Box<str>>,
}

/// Wire shape of an error, for the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case, meant for programs.
    #[schema(example = "not_found")]
    pub code: String,
    /// Human readable, may change.
    pub message: String,
    /// What else there is to say (the field, the permission, the limit);
    /// always present, `null` when there is nothing to add.
    #[schema(value_type = Option<Object>, required = true)]
    pub details: Option<Value>,
    /// Present on 500 responses, to quote when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
            retry_after_s: None,
            allow: None,
            source: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 naming the offending field.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{field}: {message}"),
        )
        .with_details(serde_json::json!({ "field": field, "reason": message }))
    }

    /// 405 naming, in `Allow` and in `details`, the methods the path accepts.
    pub fn method_not_allowed(allowed: &[actix_web::http::Method]) -> Self {
        let methods: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        let mut e = Self::from_status(StatusCode::METHOD_NOT_ALLOWED)
            .with_details(serde_json::json!({ "allowed": methods }));
        e.allow = Some(methods.join(", "));
        e
    }

    pub fn service_unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// An unexpected failure: the client sees an opaque 500, the log sees `cause`.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; quote the request id when reporting it",
        );
        e.source = Some(cause.to_string().into_boxed_str());
        e
    }

    /// The envelope for a bare status (404/405 from routing, and so on).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this resource")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            StatusCode::BAD_REQUEST => ("bad_request", "bad request"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
            StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "request timed out"),
            StatusCode::SERVICE_UNAVAILABLE => ("service_unavailable", "service unavailable"),
            s if s.is_server_error() => ("internal_error", "an unexpected error occurred"),
            _ => ("error", "request failed"),
        };
        Self::new(status, code, message)
    }

    pub fn body(&self, request_id: Option<String>) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.as_deref().cloned(),
                request_id,
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            // Logged once, here, inside the request's span (which carries the id).
            tracing::error!(error.code = %self.code, error.cause = self.source.as_deref().unwrap_or(&self.message), "request failed");
        }
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_s {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            res.insert_header((header::ALLOW, allow));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        // The middleware fills in the request id of 500s.
        res.json(self.body(None))
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "database unavailable");
                ApiError::service_unavailable(
                    "database_unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            DbError::Query(e) if presswork_db::error::is_unstorable_text(&e) => {
                ApiError::bad_request(
                    "invalid_text",
                    "text must not contain NUL (\\u0000) characters or invalid UTF-8",
                )
            }
            // Input the code let through but the schema refuses: still the
            // caller's data, never a 500.
            DbError::Query(e) if presswork_db::error::check_violation(&e).is_some() => {
                let constraint = presswork_db::error::check_violation(&e)
                    .unwrap_or_default()
                    .to_owned();
                tracing::warn!(constraint = %constraint, "a check constraint refused input the handlers accepted");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "constraint_violation",
                    format!("the value breaks a rule of the data model ({constraint})"),
                )
                .with_details(serde_json::json!({ "constraint": constraint }))
            }
            DbError::Query(e) if presswork_db::error::is_connection_lost(&e) => {
                tracing::warn!(error.cause = %e, "database connection lost");
                ApiError::service_unavailable(
                    "database_unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl ApiError {
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_s = Some(secs.max(1));
        self
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            AuthError::Unauthenticated => ApiError::new(
                S::UNAUTHORIZED,
                "unauthorized",
                "authentication required: send a bearer token or an API key",
            ),
            AuthError::InvalidCredentials => ApiError::new(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "invalid login or password",
            ),
            AuthError::TotpRequired => ApiError::new(S::UNAUTHORIZED, "totp_required", msg),
            AuthError::InvalidTotp => ApiError::new(S::UNAUTHORIZED, "invalid_totp", msg),
            AuthError::AccountLocked { retry_after_s } => ApiError::new(
                S::TOO_MANY_REQUESTS,
                "account_locked",
                "account locked after repeated failures; try again later",
            )
            .retry_after(retry_after_s),
            AuthError::TooManyAttempts { retry_after_s } => ApiError::new(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts; try again later",
            )
            .retry_after(retry_after_s),
            AuthError::AccountDisabled => ApiError::new(S::FORBIDDEN, "account_disabled", msg),
            AuthError::InvalidToken => ApiError::new(S::UNAUTHORIZED, "invalid_token", msg),
            AuthError::TokenExpired => ApiError::new(S::UNAUTHORIZED, "token_expired", msg),
            AuthError::SessionRevoked => ApiError::new(S::UNAUTHORIZED, "session_revoked", msg),
            AuthError::InvalidRefreshToken => {
                ApiError::new(S::UNAUTHORIZED, "invalid_refresh_token", msg)
            }
            AuthError::RefreshTokenReused => {
                ApiError::new(S::UNAUTHORIZED, "refresh_token_reused", msg)
            }
            AuthError::InvalidApiKey => ApiError::new(S::UNAUTHORIZED, "invalid_api_key", msg),
            AuthError::ApiKeyRevoked => ApiError::new(S::UNAUTHORIZED, "api_key_revoked", msg),
            AuthError::ApiKeyExpired => ApiError::new(S::UNAUTHORIZED, "api_key_expired", msg),
            AuthError::ApiKeyIpNotAllowed => {
                ApiError::new(S::FORBIDDEN, "api_key_ip_not_allowed", msg)
            }
            AuthError::ApiKeyRateLimited { retry_after_s } => {
                ApiError::new(S::TOO_MANY_REQUESTS, "api_key_rate_limited", msg)
                    .retry_after(retry_after_s)
            }
            AuthError::Forbidden { permission } => ApiError::new(
                S::FORBIDDEN,
                "forbidden",
                format!("missing permission {permission}"),
            )
            .with_details(serde_json::json!({ "permission": permission })),
            AuthError::SignupDisabled => ApiError::new(S::FORBIDDEN, "signup_disabled", msg),
            AuthError::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            AuthError::Validation(d) => ApiError::validation(d.field, d.message),
            AuthError::NotFound => ApiError::not_found("no such resource"),
            AuthError::InvalidOAuthState => ApiError::bad_request(
                "invalid_state",
                "the OAuth state is missing, expired or does not match",
            ),
            AuthError::OAuthDenied(m) => ApiError::bad_request("oauth_denied", m),
            AuthError::OAuthUpstream(m) => ApiError::service_unavailable("github_unavailable", m),
            AuthError::Unavailable(m) => ApiError::service_unavailable("unavailable", m),
            AuthError::Db(d) => ApiError::from(d),
            AuthError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::validation(e.field, e.message)
    }
}

/// Bad JSON bodies: syntax errors are 400, well-formed bodies of the wrong
/// shape 422 (serde's message names the field), size 413, content type 415.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is {length} bytes; the limit is {limit}"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("invalid request body: {e}"),
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(
            "malformed_json",
            format!("request body is not valid JSON: {e}"),
        ),
        other => ApiError::bad_request(
            "invalid_body",
            format!("could not read the request body: {other}"),
        ),
    };
    api.into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_path", format!("invalid path parameter: {err}")).into()
}

impl From<presswork_db::cms::CmsError> for ApiError {
    fn from(e: presswork_db::cms::CmsError) -> Self {
        use presswork_db::cms::CmsError;
        match e {
            CmsError::NotFound => ApiError::not_found("no such resource"),
            CmsError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            CmsError::Validation(d) => ApiError::validation(d.field, d.message),
            CmsError::Conflict {
                code,
                field,
                message,
            } => ApiError::conflict(code, message)
                .with_details(serde_json::json!({ "field": field })),
            CmsError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the resource changed since you read it",
            ),
            CmsError::Db(e) => ApiError::from(DbError::Query(e)),
        }
    }
}

impl From<presswork_db::QueryError> for ApiError {
    fn from(e: presswork_db::QueryError) -> Self {
        ApiError::from(DbError::Query(e))
    }
}

impl From<presswork_llm::LlmError> for ApiError {
    fn from(e: presswork_llm::LlmError) -> Self {
        use StatusCode as S;
        use presswork_llm::LlmError as L;
        let msg = e.to_string();
        let kind = e.kind();
        match e {
            L::BudgetExceeded { .. } => ApiError::new(S::TOO_MANY_REQUESTS, "budget_exceeded", msg)
                .retry_after(seconds_to_next_month()),
            L::NotConfigured(provider) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "provider_not_configured",
                format!("provider {provider} is not configured"),
            )
            .with_details(serde_json::json!({ "field": "provider", "provider": provider })),
            L::RateLimited {
                provider,
                retry_after,
            } => {
                let e = ApiError::new(S::TOO_MANY_REQUESTS, "llm_rate_limited", msg)
                    .with_details(serde_json::json!({ "provider": provider }));
                match retry_after {
                    Some(d) => e.retry_after(d.as_secs().max(1)),
                    None => e,
                }
            }
            L::ContentFiltered { provider, .. } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "llm_content_filtered", msg)
                    .with_details(serde_json::json!({ "provider": provider }))
            }
            L::InvalidRequest { provider, .. } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "llm_invalid_request", msg)
                    .with_details(serde_json::json!({ "provider": provider }))
            }
            L::Timeout { provider, .. } => ApiError::new(S::GATEWAY_TIMEOUT, "llm_timeout", msg)
                .with_details(serde_json::json!({ "provider": provider })),
            L::Interrupted {
                provider, partial, ..
            } => ApiError::new(S::BAD_GATEWAY, "llm_interrupted", msg)
                .with_details(serde_json::json!({ "provider": provider, "partial": partial })),
            L::AllFailed(chain) => ApiError::new(
                S::BAD_GATEWAY,
                "llm_unavailable",
                "no LLM provider could answer",
            )
            .with_details(serde_json::json!({ "attempts": chain })),
            L::Unavailable { ref provider, .. }
            | L::Authentication { ref provider, .. }
            | L::Server { ref provider, .. }
            | L::Malformed { ref provider, .. } => {
                let details = serde_json::json!({ "provider": provider, "kind": kind });
                ApiError::new(S::BAD_GATEWAY, format!("llm_{kind}"), msg).with_details(details)
            }
        }
    }
}

/// Until the budget resets.
fn seconds_to_next_month() -> u64 {
    let left = presswork_pipeline::ledger::next_month_start() - chrono::Utc::now();
    u64::try_from(left.num_seconds()).unwrap_or(3600)
}

impl From<presswork_pipeline::chat::ChatError> for ApiError {
    fn from(e: presswork_pipeline::chat::ChatError) -> Self {
        use presswork_pipeline::chat::ChatError as C;
        match e {
            C::Invalid(d) => d.into(),
            C::Db(e) => e.into(),
        }
    }
}

impl From<presswork_pipeline::social::SocialError> for ApiError {
    fn from(e: presswork_pipeline::social::SocialError) -> Self {
        use presswork_pipeline::social::SocialError as S;
        match e {
            S::Invalid(d) => d.into(),
            S::NoSuchPost => ApiError::not_found("no such published post"),
            S::Llm(e) => e.into(),
            S::Db(e) => e.into(),
        }
    }
}

impl From<presswork_pipeline::approval::ApprovalError> for ApiError {
    fn from(e: presswork_pipeline::approval::ApprovalError) -> Self {
        use presswork_pipeline::approval::ApprovalError as A;
        match e {
            A::NotFound => ApiError::not_found("no such content task"),
            A::Conflict(status) => ApiError::conflict(
                "not_awaiting_approval",
                format!("the content task is {status}, not awaiting approval"),
            )
            .with_details(serde_json::json!({ "status": status })),
            A::NotRevisable(status) => ApiError::conflict(
                "not_reviewable",
                format!(
                    "the content task is {status}; only drafts awaiting approval or rejected can be regenerated"
                ),
            ),
            A::NotRetryable(status) => ApiError::conflict(
                "not_retryable",
                format!("the content task is {status}; only failed generations can be retried"),
            ),
            A::DuplicateTopic(matches) => {
                let closest = matches
                    .first()
                    .map(|m| format!(": \"{}\" ({:.0}% alike)", m.title, m.similarity * 100.0))
                    .unwrap_or_default();
                ApiError::conflict(
                    "duplicate_topic",
                    format!(
                        "existing content is on nearly the same topic{closest}; send \"allow_duplicate\": true to go ahead"
                    ),
                )
                .with_details(serde_json::json!({ "matches": matches }))
            }
            A::Forbidden {
                permission,
                message,
            } => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
                .with_details(serde_json::json!({ "permission": permission })),
            A::Invalid(d) => ApiError::validation(d.field, d.message),
            A::Cms(c) => ApiError::from(c),
            A::Db(e) => ApiError::from(e),
        }
    }
}
