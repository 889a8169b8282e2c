use presswork_db::DbError;
use presswork_domain::DomainError;
use thiserror::Error;

/// Every way an identity operation can fail; the API maps each to a status
/// and a stable code.
#[derive(Debug, Error)]
pub enum AuthError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("a TOTP code is required for this account")]
    TotpRequired,
    #[error("invalid or already used TOTP code")]
    InvalidTotp,
    #[error("account locked after repeated failures")]
    AccountLocked { retry_after_s: u64 },
    #[error("too many attempts")]
    TooManyAttempts { retry_after_s: u64 },
    #[error("account disabled")]
    AccountDisabled,
    #[error("invalid access token")]
    InvalidToken,
    #[error("access token expired")]
    TokenExpired,
    #[error("session revoked")]
    SessionRevoked,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused; the session has been revoked")]
    RefreshTokenReused,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("API key revoked")]
    ApiKeyRevoked,
    #[error("API key expired")]
    ApiKeyExpired,
    #[error("API key not allowed from this address")]
    ApiKeyIpNotAllowed,
    #[error("API key hourly limit reached")]
    ApiKeyRateLimited { retry_after_s: u64 },
    #[error("missing permission {permission}")]
    Forbidden { permission: String },
    #[error("sign-up is disabled")]
    SignupDisabled,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Validation(#[from] DomainError),
    #[error("not found")]
    NotFound,
    #[error("invalid OAuth state")]
    InvalidOAuthState,
    #[error("GitHub sign-in failed: {0}")]
    OAuthDenied(String),
    #[error("GitHub is unavailable: {0}")]
    OAuthUpstream(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<presswork_db::QueryError> for AuthError {
    fn from(e: presswork_db::QueryError) -> Self {
        AuthError::Db(DbError::Query(e))
    }
}

impl AuthError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        AuthError::Validation(DomainError::new(field, message))
    }
}
