//! Accounts: creating a user (identity rules, password policy, roles) and
//! its summary, as functions over a connection, so callers can share a
//! transaction and the CLI needs no token issuer to create one.

use chrono::{DateTime, Utc};
use presswork_db::models::{role, session, user};
use presswork_db::{AsyncConnection, AsyncPgConnection, DbError, QueryError as DieselError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{AuthError, password};

#[derive(Debug, Clone)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub display_name: Option<String>,
    pub is_active: bool,
    pub roles: Vec<String>,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

pub(crate) fn db(e: DieselError) -> AuthError {
    AuthError::Db(DbError::Query(e))
}

/// Maps unique violations on users to 409 naming the field.
pub(crate) fn user_conflict(e: DieselError) -> AuthError {
    if let Some(constraint) = presswork_db::error::unique_violation(&e) {
        return match Some(constraint) {
            Some("users_email_key") => AuthError::Conflict {
                code: "email_taken",
                message: "email: already registered".into(),
            },
            Some("users_username_key") => AuthError::Conflict {
                code: "username_taken",
                message: "username: already taken".into(),
            },
            Some("users_github_id_key") => AuthError::Conflict {
                code: "github_account_linked",
                message: "this GitHub account is linked to another user".into(),
            },
            _ => db(e),
        };
    }
    db(e)
}

pub(crate) fn validate_identity(email: &str, username: &str) -> Result<(), AuthError> {
    let at = email.find('@');
    let valid_email = email.len() <= 254
        && at.is_some_and(|i| i > 0 && i < email.len() - 1)
        && !email.chars().any(char::is_whitespace)
        && email.matches('@').count() == 1;
    if !valid_email {
        return Err(AuthError::validation(
            "email",
            "must be a valid email address",
        ));
    }
    let valid_username = (3..=50).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid_username {
        return Err(AuthError::validation(
            "username",
            "must be 3 to 50 letters, digits, '_', '.' or '-'",
        ));
    }
    Ok(())
}

/// A checked account, its password hashed, ready to insert.
pub struct NewAccount {
    email: String,
    username: String,
    hash: String,
    roles: Vec<String>,
}

impl NewAccount {
    /// Checks the identity and the password (`min_password_score`, zxcvbn)
    /// and hashes the password (argon2, off the async threads).
    pub async fn prepare(
        email: &str,
        username: &str,
        password: SecretString,
        roles: &[String],
        min_password_score: u8,
    ) -> Result<Self, AuthError> {
        let email = email.trim();
        let username = username.trim();
        validate_identity(email, username)?;
        password::check_policy(
            password.expose_secret(),
            &[email, username],
            min_password_score,
        )?;
        let hash = password::hash_async(password).await?;
        Ok(Self {
            email: email.to_owned(),
            username: username.to_owned(),
            hash,
            roles: roles.to_vec(),
        })
    }
}

/// Creates the user with its roles in one transaction (409 naming a taken
/// email or username, 422 for an unknown role).
pub async fn create(
    conn: &mut AsyncPgConnection,
    a: &NewAccount,
) -> Result<UserSummary, AuthError> {
    let created = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let u = user::insert(
                conn,
                &user::NewUser {
                    email: &a.email,
                    username: &a.username,
                    display_name: None,
                    password_hash: Some(&a.hash),
                    github_id: None,
                },
            )
            .await
            .map_err(user_conflict)?;
            user::set_roles(conn, u.id, &a.roles)
                .await
                .map_err(|e| match e {
                    DieselError::NotFound => AuthError::validation("roles", "unknown role"),
                    other => db(other),
                })?;
            Ok(u)
        })
        .await?;
    summary(conn, &created).await
}

/// A user with its role names.
pub async fn summary(
    conn: &mut AsyncPgConnection,
    u: &user::User,
) -> Result<UserSummary, AuthError> {
    let roles = user::role_names(conn, u.id).await.map_err(db)?;
    Ok(UserSummary {
        id: u.id,
        email: u.email.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        is_active: u.is_active,
        roles,
        totp_enabled: u.totp_enabled,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    })
}
/// The first administrator; refused (409) once any user exists. Serialised
/// by an advisory lock so two concurrent calls cannot both succeed.
pub async fn init_admin(
    conn: &mut AsyncPgConnection,
    min_password_score: u8,
    email: &str,
    username: &str,
    password: SecretString,
) -> Result<UserSummary, AuthError> {
    let email = email.trim().to_owned();
    let username = username.trim().to_owned();
    validate_identity(&email, &username)?;
    password::check_policy(
        password.expose_secret(),
        &[&email, &username],
        min_password_score,
    )?;
    let hash = password::hash_async(password).await?;
    let created = conn
        .transaction::<_, AuthError, _>(async |conn| {
            presswork_db::locks::xact_lock(conn, presswork_db::locks::INIT_ADMIN)
                .await
                .map_err(db)?;
            if user::count(conn).await.map_err(db)? > 0 {
                return Err(AuthError::Conflict {
                    code: "already_initialised",
                    message: "an administrator already exists".into(),
                });
            }
            let u = user::insert(
                conn,
                &user::NewUser {
                    email: &email,
                    username: &username,
                    display_name: None,
                    password_hash: Some(&hash),
                    github_id: None,
                },
            )
            .await
            .map_err(user_conflict)?;
            user::set_roles(conn, u.id, &["admin".to_owned()])
                .await
                .map_err(db)?;
            Ok(u)
        })
        .await?;
    crate::users::summary(conn, &created).await
}

/// Needs the current password; revokes every other session of the user.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    min_password_score: u8,
    user_id: Uuid,
    current_session: Option<Uuid>,
    current: SecretString,
    new: SecretString,
) -> Result<(), AuthError> {
    let u = user::find(conn, user_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::NotFound)?;
    let phc = u
        .password_hash
        .clone()
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    if !(password::verify_async(current, phc).await && u.password_hash.is_some()) {
        return Err(AuthError::InvalidCredentials);
    }
    password::check_policy(
        new.expose_secret(),
        &[&u.email, &u.username],
        min_password_score,
    )?;
    let hash = password::hash_async(new).await?;
    let keep_family = match current_session {
        Some(sid) => session::find(conn, sid)
            .await
            .map_err(db)?
            .map(|s| s.family_id),
        None => None,
    };
    conn.transaction::<_, AuthError, _>(async |conn| {
        user::set_password_hash(conn, user_id, &hash)
            .await
            .map_err(db)?;
        session::revoke_all_for_user(conn, user_id, keep_family, "password changed")
            .await
            .map_err(db)?;
        Ok(())
    })
    .await?;
    tracing::info!(user.id = %user_id, "password changed; other sessions revoked");
    Ok(())
}

pub async fn list_users(
    conn: &mut AsyncPgConnection,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserSummary>, i64), AuthError> {
    let rows = user::list(conn, limit, offset).await.map_err(db)?;
    let total = user::count(conn).await.map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for u in &rows {
        out.push(crate::users::summary(conn, u).await?);
    }
    Ok((out, total))
}

/// Changes the active flag, display name and/or roles. Deactivating a user
/// revokes their sessions so it takes effect at once.
/// An administrator cannot deactivate themselves or drop their own admin
/// role (the last way back in would be the database).
pub async fn update_user(
    conn: &mut AsyncPgConnection,
    actor: Uuid,
    id: Uuid,
    is_active: Option<bool>,
    display_name: Option<Option<String>>,
    roles: Option<Vec<String>>,
) -> Result<UserSummary, AuthError> {
    if actor == id
        && (is_active == Some(false)
            || roles
                .as_ref()
                .is_some_and(|r| !r.iter().any(|r| r == "admin")))
    {
        return Err(AuthError::Conflict {
            code: "cannot_demote_self",
            message: "you cannot deactivate yourself or drop your own admin role".into(),
        });
    }
    let updated = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let changes = user::UserChanges {
                email: None,
                display_name: display_name.as_ref().map(|d| d.as_deref()),
                is_active,
            };
            let u = user::update(conn, id, &changes)
                .await
                .map_err(db)?
                .ok_or(AuthError::NotFound)?;
            if let Some(roles) = &roles {
                user::set_roles(conn, id, roles)
                    .await
                    .map_err(|e| match e {
                        DieselError::NotFound => AuthError::validation("roles", "unknown role"),
                        other => db(other),
                    })?;
            }
            if is_active == Some(false) {
                session::revoke_all_for_user(conn, id, None, "account disabled")
                    .await
                    .map_err(db)?;
            }
            Ok(u)
        })
        .await?;
    crate::users::summary(conn, &updated).await
}

pub async fn delete_user(
    conn: &mut AsyncPgConnection,
    actor: Uuid,
    id: Uuid,
) -> Result<(), AuthError> {
    if actor == id {
        return Err(AuthError::Conflict {
            code: "cannot_delete_self",
            message: "you cannot delete your own account".into(),
        });
    }
    if user::delete(conn, id).await.map_err(db)? {
        Ok(())
    } else {
        Err(AuthError::NotFound)
    }
}

pub async fn list_roles(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<(String, String, Vec<String>)>, AuthError> {
    role::list_with_permissions(conn).await.map_err(db)
}

/// The audit events of an update: deactivation, other changes, and each
/// role granted or revoked.
pub fn audit_changes(before: &UserSummary, after: &UserSummary) -> Vec<presswork_db::audit::Event> {
    use presswork_db::audit::Event;
    use presswork_domain::status::AuditAction;
    let mut events = Vec::new();
    let id = after.id;
    if before.is_active && !after.is_active {
        events.push(
            Event::new(AuditAction::UserDeactivated, "user", id)
                .with(serde_json::json!({ "username": after.username })),
        );
    }
    let mut changed = serde_json::Map::new();
    if !before.is_active && after.is_active {
        changed.insert(
            "is_active".into(),
            serde_json::json!({ "from": false, "to": true }),
        );
    }
    if before.display_name != after.display_name {
        changed.insert(
            "display_name".into(),
            serde_json::json!({ "from": before.display_name, "to": after.display_name }),
        );
    }
    if !changed.is_empty() {
        events.push(
            Event::new(AuditAction::UserUpdated, "user", id)
                .with(serde_json::Value::Object(changed)),
        );
    }
    for role in after.roles.iter().filter(|r| !before.roles.contains(r)) {
        events.push(
            Event::new(AuditAction::RoleGranted, "user", id)
                .with(serde_json::json!({ "role": role, "username": after.username })),
        );
    }
    for role in before.roles.iter().filter(|r| !after.roles.contains(r)) {
        events.push(
            Event::new(AuditAction::RoleRevoked, "user", id)
                .with(serde_json::json!({ "role": role, "username": after.username })),
        );
    }
    events
}
