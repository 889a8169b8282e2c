//! The password and second-factor steps of a login, over a connection: the
//! per-name lockout, the account lock after wrong second factors, TOTP (one
//! use per time step) and backup codes. The per-address limit is the
//! service's (it lives in memory, per process).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use presswork_db::AsyncPgConnection;
use presswork_db::models::{login_failure, user};
use secrecy::SecretString;
use uuid::Uuid;

use crate::service::Keys;
use crate::sessions::IssuedTokens;
use crate::users::db;
use crate::{AuthError, password, totp};

/// The outcome of the password step of a two-step login (no `Debug`: it
/// carries tokens).
pub enum LoginStep {
    SignedIn(IssuedTokens),
    /// The account has TOTP: send the code with this ticket.
    SecondFactor {
        ticket: String,
    },
}

/// Where a request came from, for sessions and limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The request's id, for the audit trail.
    pub request_id: Option<String>,
}

impl ClientInfo {
    /// The request as the audit trail records it.
    pub fn audit_request(&self) -> presswork_db::audit::Request {
        presswork_db::audit::Request {
            request_id: self.request_id.clone(),
            client_addr: self.ip.map(|ip| ip.to_string()),
        }
    }
}

/// The answer to a locked name or account.
pub fn locked(until: DateTime<Utc>) -> AuthError {
    AuthError::AccountLocked {
        retry_after_s: (until - Utc::now()).num_seconds().max(1) as u64,
    }
}

pub async fn second_factor(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    u: &user::User,
    code: &str,
) -> Result<(), AuthError> {
    if check_second_factor(conn, keys, u, code).await? {
        return Ok(());
    }
    Err(match failed_login(conn, keys, u.id).await {
        locked @ AuthError::AccountLocked { .. } => locked,
        _ => AuthError::InvalidTotp,
    })
}

pub async fn finish_login(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    u: &user::User,
    client: &ClientInfo,
) -> Result<IssuedTokens, AuthError> {
    user::record_successful_login(conn, u.id)
        .await
        .map_err(db)?;
    let tokens = crate::sessions::start_session(conn, keys, u, Uuid::new_v4(), client).await?;
    tracing::info!(user.id = %u.id, session.id = %tokens.session_id, "login succeeded");
    Ok(tokens)
}

/// Password check with the per-name lockout; the user, if
/// the password is right and the account usable.
///
/// The lockout counts failures per login name whether or not an account
/// has it (`login_failures`), and every name takes the same steps — the
/// lock check, the lookup, one password hash, one write on failure — so
/// neither the answers nor their timing say which names exist.
pub async fn first_factor(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    login: &str,
    password: SecretString,
) -> Result<user::User, AuthError> {
    let key = login_failure::key_of(login);
    if key.is_empty() || key.chars().count() > 320 {
        return Err(AuthError::InvalidCredentials);
    }
    if let Some(until) = login_failure::locked_until(conn, &key).await.map_err(db)? {
        return Err(locked(until));
    }
    let found = user::find_by_login(conn, login.trim()).await.map_err(db)?;
    // An account locked by wrong second factors (the password was
    // right, so this reveals nothing a caller did not know).
    if let Some(until) = found
        .as_ref()
        .and_then(|u| u.locked_until)
        .filter(|t| *t > Utc::now())
    {
        return Err(locked(until));
    }
    let phc = found
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    let verified = password::verify_async(password, phc).await;
    let user = found.filter(|u| verified && u.password_hash.is_some());
    let Some(u) = user else {
        let lock = chrono::Duration::from_std(keys.settings.lockout)
            .unwrap_or(chrono::Duration::minutes(15));
        return Err(
            match login_failure::record(conn, &key, keys.settings.lockout_threshold, lock)
                .await
                .map_err(db)?
            {
                Some(until) => {
                    tracing::warn!("a login name locked after repeated failures");
                    locked(until)
                }
                None => AuthError::InvalidCredentials,
            },
        );
    };
    login_failure::clear(conn, &key).await.map_err(db)?;
    if !u.is_active {
        return Err(AuthError::AccountDisabled);
    }
    Ok(u)
}

/// Counts a wrong second factor against the account (its password was
/// right).
pub async fn failed_login(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
) -> AuthError {
    let lock =
        chrono::Duration::from_std(keys.settings.lockout).unwrap_or(chrono::Duration::minutes(15));
    match user::record_failed_login(conn, user_id, keys.settings.lockout_threshold, lock).await {
        Ok(Some(until)) => {
            tracing::warn!(user.id = %user_id, "account locked after repeated login failures");
            locked(until)
        }
        Ok(None) => AuthError::InvalidCredentials,
        Err(e) => db(e),
    }
}

/// A TOTP code (accepted once per time step) or an unused backup code.
pub async fn check_second_factor(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    u: &user::User,
    code: &str,
) -> Result<bool, AuthError> {
    let secret = totp_secret(keys, u)?;
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let now = Utc::now().timestamp().max(0) as u64;
        return match totp::verify(&secret, &digits, now) {
            Some(step) => Ok(user::claim_totp_step(conn, u.id, step as i64)
                .await
                .map_err(db)?),
            None => Ok(false),
        };
    }
    let used = user::consume_backup_code(conn, u.id, &totp::hash_backup_code(code))
        .await
        .map_err(db)?;
    if used {
        tracing::info!(user.id = %u.id, "backup code used");
    }
    Ok(used)
}

pub fn totp_secret(keys: &Keys<'_>, u: &user::User) -> Result<Vec<u8>, AuthError> {
    let sealed = u
        .totp_secret_encrypted
        .as_deref()
        .ok_or_else(|| AuthError::Internal("TOTP enabled without a secret".into()))?;
    let cipher = keys.cipher.ok_or_else(|| {
        AuthError::Unavailable(
            "PRESSWORK_ENCRYPTION_KEY is not configured; 2FA secrets cannot be read".into(),
        )
    })?;
    cipher
        .open(sealed)
        .map_err(|e| AuthError::Internal(e.to_string()))
}

/// The second step of a two-step login: the user a verified ticket names,
/// checked again (lock, active, TOTP on), then the code.
pub async fn ticket_second_factor(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
    code: &str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AuthError> {
    let u = user::find(conn, user_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::InvalidToken)?;
    if let Some(until) = u.locked_until.filter(|t| *t > Utc::now()) {
        return Err(locked(until));
    }
    if !u.is_active {
        return Err(AuthError::AccountDisabled);
    }
    if !u.totp_enabled {
        return Err(AuthError::InvalidToken);
    }
    let code = code.trim();
    if code.is_empty() {
        return Err(AuthError::InvalidTotp);
    }
    second_factor(conn, keys, &u, code).await?;
    finish_login(conn, keys, &u, client).await
}
