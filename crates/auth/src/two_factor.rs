//! Two-factor enrolment over a connection: a secret stored encrypted, enabled
//! by a first code, backup codes shown once, and turning it off or renewing
//! the codes only with a code or the password.

use chrono::Utc;
use presswork_db::AsyncPgConnection;
use presswork_db::models::user;
use secrecy::SecretString;
use uuid::Uuid;

use crate::login::{check_second_factor, totp_secret};
use crate::service::Keys;
use crate::users::db;
use crate::{AuthError, password, totp};

pub struct TotpSetup {
    pub provisioning: totp::Provisioning,
}

/// A user who may enrol (2FA not on yet).
async fn enrolling(conn: &mut AsyncPgConnection, user_id: Uuid) -> Result<user::User, AuthError> {
    let u = user::find(conn, user_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::NotFound)?;
    if u.totp_enabled {
        return Err(AuthError::Conflict {
            code: "totp_already_enabled",
            message: "two-factor authentication is already enabled".into(),
        });
    }
    Ok(u)
}

/// Starts 2FA enrolment: a new secret, stored encrypted, not yet enabled.
pub async fn totp_setup(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
) -> Result<TotpSetup, AuthError> {
    let cipher = keys.cipher.ok_or_else(|| {
        AuthError::Unavailable(
            "PRESSWORK_ENCRYPTION_KEY is not configured; 2FA cannot be enabled".into(),
        )
    })?;
    let u = enrolling(conn, user_id).await?;
    let secret = totp::new_secret()?;
    let sealed = cipher
        .seal(&secret)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    user::set_pending_totp_secret(conn, user_id, &sealed)
        .await
        .map_err(db)?;
    Ok(TotpSetup {
        provisioning: totp::provisioning(&secret, &u.email)?,
    })
}

/// Confirms enrolment with a code; returns the ten backup codes (shown once).
pub async fn totp_enable(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
    code: &str,
) -> Result<Vec<String>, AuthError> {
    let u = enrolling(conn, user_id).await?;
    if u.totp_secret_encrypted.is_none() {
        return Err(AuthError::Conflict {
            code: "totp_not_set_up",
            message: "call /api/auth/2fa/setup first".into(),
        });
    }
    let secret = totp_secret(keys, &u)?;
    let now = Utc::now().timestamp().max(0) as u64;
    let step = totp::verify(&secret, code, now).ok_or(AuthError::InvalidTotp)?;
    let (codes, hashes) = totp::new_backup_codes()?;
    user::enable_totp(conn, user_id, step as i64, &hashes)
        .await
        .map_err(db)?;
    tracing::info!(user.id = %user_id, "two-factor authentication enabled");
    Ok(codes)
}

/// Checks a TOTP code (with replay protection), a backup code, or the password.
pub async fn reauthenticate(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    u: &user::User,
    code: Option<&str>,
    password_given: Option<SecretString>,
) -> Result<(), AuthError> {
    if let Some(code) = code.filter(|c| !c.trim().is_empty()) {
        return if check_second_factor(conn, keys, u, code.trim()).await? {
            Ok(())
        } else {
            Err(AuthError::InvalidTotp)
        };
    }
    if let (Some(pw), Some(phc)) = (password_given, u.password_hash.clone()) {
        return if password::verify_async(pw, phc).await {
            Ok(())
        } else {
            Err(AuthError::InvalidCredentials)
        };
    }
    Err(AuthError::validation(
        "code",
        "a TOTP code or the password is required",
    ))
}

/// Loads a user with 2FA on and checks their proof (code or password).
pub async fn reauthenticated_totp_user(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
    code: Option<&str>,
    password_given: Option<SecretString>,
) -> Result<(), AuthError> {
    let u = user::find(conn, user_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::NotFound)?;
    if !u.totp_enabled {
        return Err(AuthError::Conflict {
            code: "totp_not_enabled",
            message: "two-factor authentication is not enabled".into(),
        });
    }
    reauthenticate(conn, keys, &u, code, password_given).await
}

pub async fn totp_disable(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
    code: Option<&str>,
    password_given: Option<SecretString>,
) -> Result<(), AuthError> {
    reauthenticated_totp_user(conn, keys, user_id, code, password_given).await?;
    user::disable_totp(conn, user_id).await.map_err(db)?;
    tracing::info!(user.id = %user_id, "two-factor authentication disabled");
    Ok(())
}

pub async fn regenerate_backup_codes(
    conn: &mut AsyncPgConnection,
    keys: &Keys<'_>,
    user_id: Uuid,
    code: Option<&str>,
    password_given: Option<SecretString>,
) -> Result<Vec<String>, AuthError> {
    reauthenticated_totp_user(conn, keys, user_id, code, password_given).await?;
    let (codes, hashes) = totp::new_backup_codes()?;
    user::set_backup_codes(conn, user_id, &hashes)
        .await
        .map_err(db)?;
    Ok(codes)
}
