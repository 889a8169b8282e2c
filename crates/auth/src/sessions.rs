//! Sessions over a connection: opening one (a refresh token and an access
//! token), rotating its refresh token (a reused one revokes its family),
//! ending, listing and revoking them, and turning an access token or a
//! session secret into a [`Principal`] with current permissions.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use presswork_db::models::{session, user};
use presswork_db::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::AuthError;
use crate::login::ClientInfo;
use crate::principal::{Principal, PrincipalKind};
use crate::service::Keys;
use crate::tokens::new_refresh_token;
use crate::users::{UserSummary, db};

/// What login, refresh and GitHub sign-in hand back (its `Debug` leaves the
/// tokens out, so it can never log them).
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub session_id: Uuid,
    pub user: UserSummary,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .field("user", &self.user)
            .finish()
    }
}

pub async fn start_session(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    u: &user::User,
    family_id: Uuid,
    client: &ClientInfo,
) -> Result<IssuedTokens, AuthError> {
    let (refresh, refresh_hash) = new_refresh_token()?;
    let ip = client.ip.map(|ip| ip.to_string());
    let ua: Option<String> = client
        .user_agent
        .as_ref()
        .map(|s| s.chars().take(512).collect());
    let expires_at = Utc::now()
        + chrono::Duration::from_std(keys.settings.refresh_ttl)
            .unwrap_or(chrono::Duration::days(30));
    let s = session::insert(
        conn,
        &session::NewSession {
            user_id: u.id,
            family_id,
            refresh_token_hash: &refresh_hash,
            expires_at,
            ip: ip.as_deref(),
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(db)?;
    let summary = crate::users::summary(conn, u).await?;
    let (access, expires_in) = keys.tokens.issue(u.id, s.id, summary.roles.clone())?;
    Ok(IssuedTokens {
        access_token: access,
        refresh_token: refresh,
        expires_in,
        session_id: s.id,
        user: summary,
    })
}

/// Rotates a refresh token. Presenting a token that was already rotated
/// revokes its whole family (someone else holds a copy).
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    refresh_token: &str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AuthError> {
    let hash = crate::crypto::sha256_hex(refresh_token.trim());
    let outcome = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let s = session::find_by_token_hash(conn, &hash)
                .await
                .map_err(db)?
                .ok_or(AuthError::InvalidRefreshToken)?;
            if s.revoked_at.is_some() {
                return Err(AuthError::InvalidRefreshToken);
            }
            if s.rotated_at.is_some() || !session::mark_rotated(conn, s.id).await.map_err(db)? {
                session::revoke_family(conn, s.family_id, "refresh token reuse")
                    .await
                    .map_err(db)?;
                return Ok(Err((s.family_id, s.user_id)));
            }
            if s.expires_at <= Utc::now() {
                return Err(AuthError::InvalidRefreshToken);
            }
            let u = user::find(conn, s.user_id)
                .await
                .map_err(db)?
                .ok_or(AuthError::InvalidRefreshToken)?;
            if !u.is_active {
                return Err(AuthError::AccountDisabled);
            }
            Ok(Ok(crate::sessions::start_session(
                conn,
                keys,
                &u,
                s.family_id,
                client,
            )
            .await?))
        })
        .await?;
    match outcome {
        Ok(tokens) => Ok(tokens),
        Err((family, user_id)) => {
            // Committed above: the revocation must stand although we answer 401.
            tracing::warn!(user.id = %user_id, session.family = %family, "refresh token reuse; session family revoked");
            Err(AuthError::RefreshTokenReused)
        }
    }
}

/// Ends the login the session belongs to (its whole family).
pub async fn logout(conn: &mut AsyncPgConnection, session_id: Uuid) -> Result<(), AuthError> {
    let s = session::find(conn, session_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::NotFound)?;
    session::revoke_family(conn, s.family_id, "logout")
        .await
        .map_err(db)?;
    Ok(())
}

/// The user's live sessions, each flagged when it belongs to the same
/// login as `current` (the caller's session, possibly rotated since).
pub async fn list_sessions(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    current: Option<Uuid>,
) -> Result<Vec<(session::Session, bool)>, AuthError> {
    let current_family = match current {
        Some(sid) => session::find(conn, sid)
            .await
            .map_err(db)?
            .map(|s| s.family_id),
        None => None,
    };
    Ok(session::list_current(conn, user_id)
        .await
        .map_err(db)?
        .into_iter()
        .map(|s| {
            let is_current = Some(s.family_id) == current_family;
            (s, is_current)
        })
        .collect())
}

/// Revokes one of the user's sessions (404 for someone else's).
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<(), AuthError> {
    let s = session::find(conn, session_id)
        .await
        .map_err(db)?
        .filter(|s| s.user_id == user_id)
        .ok_or(AuthError::NotFound)?;
    session::revoke_family(conn, s.family_id, "revoked by user")
        .await
        .map_err(db)?;
    Ok(())
}

/// Turns an access token into a principal, checking its session is alive
/// and loading current permissions.
pub async fn authenticate_token(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    token: &str,
) -> Result<Principal, AuthError> {
    let claims = keys.tokens.verify(token)?;
    let mut principal = session_principal(conn, claims.sid, Some(claims.sub)).await?;
    principal.expires_at = DateTime::from_timestamp(claims.exp, 0);
    Ok(principal)
}

/// The principal of a live session of an active user, with current
/// permissions; `expected_user` must own it when given.
pub async fn session_principal(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
    expected_user: Option<Uuid>,
) -> Result<Principal, AuthError> {
    let (user_id, session_alive, active) = session::access_check(conn, session_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::InvalidToken)?;
    if expected_user.is_some_and(|u| u != user_id) {
        return Err(AuthError::InvalidToken);
    }
    if !session_alive {
        return Err(AuthError::SessionRevoked);
    }
    if !active {
        return Err(AuthError::AccountDisabled);
    }
    let permissions: BTreeSet<String> = user::permission_names(conn, user_id)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
    Ok(Principal {
        kind: PrincipalKind::Session { session_id },
        user_id,
        permissions,
        expires_at: None,
    })
}

/// Turns a session's secret (its refresh token, held by the console in an
/// HttpOnly cookie and never rotated there) into a principal with current
/// permissions. A revoked, expired or rotated session is refused.
pub async fn authenticate_session_secret(
    conn: &mut AsyncPgConnection,
    secret: &str,
) -> Result<Principal, AuthError> {
    let hash = crate::crypto::sha256_hex(secret.trim());
    let s = session::find_by_token_hash(conn, &hash)
        .await
        .map_err(db)?
        .ok_or(AuthError::InvalidToken)?;
    if s.revoked_at.is_some() || s.rotated_at.is_some() {
        return Err(AuthError::SessionRevoked);
    }
    if s.expires_at <= Utc::now() {
        return Err(AuthError::TokenExpired);
    }
    let mut principal = session_principal(conn, s.id, Some(s.user_id)).await?;
    principal.expires_at = Some(s.expires_at);
    Ok(principal)
}
