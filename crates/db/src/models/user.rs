use chrono::{DateTime, Duration, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::{permissions, role_permissions, roles, user_roles, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_active: bool,
    pub totp_enabled: bool,
    pub totp_secret_encrypted: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub totp_backup_code_hashes: Vec<Option<String>>,
    pub github_id: Option<i64>,
    pub failed_login_count: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub github_id: Option<i64>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub email: Option<&'a str>,
    pub display_name: Option<Option<&'a str>>,
    pub is_active: Option<bool>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// By email or username, case-insensitively (both are unique that way).
pub async fn find_by_login(conn: &mut AsyncPgConnection, login: &str) -> QueryResult<Option<User>> {
    let login = login.to_lowercase();
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(login.clone())
                .sql(" OR lower(username) = ")
                .bind::<diesel::sql_types::Text, _>(login),
        )
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_github_id(
    conn: &mut AsyncPgConnection,
    github_id: i64,
) -> QueryResult<Option<User>> {
    users::table
        .filter(users::github_id.eq(github_id))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn).await
}

pub async fn list(conn: &mut AsyncPgConnection, limit: i64, offset: i64) -> QueryResult<Vec<User>> {
    users::table
        .order(users::created_at.asc())
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &UserChanges<'_>,
) -> QueryResult<Option<User>> {
    if changes.email.is_none() && changes.display_name.is_none() && changes.is_active.is_none() {
        return find(conn, id).await;
    }
    diesel::update(users::table.find(id))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn).await? == 1)
}

pub async fn set_password_hash(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    hash: &str,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn set_github_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    github_id: i64,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::github_id.eq(github_id))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Counts a failed login. At `threshold` failures the account is locked for
/// `lock_for` and the counter restarts. One statement, so concurrent attempts
/// cannot both slip under the threshold. Returns the lock's end if locked now.
pub async fn record_failed_login(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    threshold: i32,
    lock_for: Duration,
) -> QueryResult<Option<DateTime<Utc>>> {
    let locks = users::failed_login_count.ge(threshold - 1);
    let lock_until = Utc::now() + lock_for;
    diesel::update(users::table.find(id))
        .set((
            users::failed_login_count.eq(sql::<diesel::sql_types::Integer>(&format!(
                "CASE WHEN failed_login_count + 1 >= {threshold} THEN 0 ELSE failed_login_count + 1 END"
            ))),
            users::locked_until.eq(diesel::dsl::case_when(locks, Some(lock_until))
                .otherwise(users::locked_until)),
        ))
        .returning(users::locked_until)
        .get_result::<Option<DateTime<Utc>>>(conn)
        .await
        .map(|until| until.filter(|t| *t > Utc::now()))
}

pub async fn record_successful_login(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_login_count.eq(0),
            users::locked_until.eq(None::<DateTime<Utc>>),
            users::last_login_at.eq(sql::<Nullable<Timestamptz>>("now()")),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Stores a new (not yet enabled) TOTP secret.
pub async fn set_pending_totp_secret(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    encrypted: &[u8],
) -> QueryResult<()> {
    diesel::update(users::table.find(id).filter(users::totp_enabled.eq(false)))
        .set(users::totp_secret_encrypted.eq(encrypted))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn enable_totp(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    step: i64,
    backup_hashes: &[String],
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::totp_enabled.eq(true),
            users::totp_last_step.eq(step),
            users::totp_backup_code_hashes.eq(backup_hashes
                .iter()
                .map(|h| Some(h.clone()))
                .collect::<Vec<_>>()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn disable_totp(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::totp_enabled.eq(false),
            users::totp_secret_encrypted.eq(None::<Vec<u8>>),
            users::totp_last_step.eq(None::<i64>),
            users::totp_backup_code_hashes.eq(Vec::<Option<String>>::new()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn set_backup_codes(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    backup_hashes: &[String],
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(
            users::totp_backup_code_hashes.eq(backup_hashes
                .iter()
                .map(|h| Some(h.clone()))
                .collect::<Vec<_>>()),
        )
        .execute(conn)
        .await
        .map(|_| ())
}

/// Accepts a TOTP step only if it is newer than the last one accepted; the
/// condition is in the UPDATE, so two requests with one code cannot both win.
pub async fn claim_totp_step(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    step: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        users::table.find(id).filter(
            users::totp_last_step
                .is_null()
                .or(users::totp_last_step.lt(step)),
        ),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Removes a backup code's hash if present; true when it was there (used once).
pub async fn consume_backup_code(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    code_hash: &str,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE users SET totp_backup_code_hashes = array_remove(totp_backup_code_hashes, $2)
          WHERE id = $1 AND $2 = ANY(totp_backup_code_hashes)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Text, _>(code_hash)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn role_names(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<String>> {
    user_roles::table
        .inner_join(roles::table)
        .filter(user_roles::user_id.eq(user_id))
        .select(roles::name)
        .order(roles::name.asc())
        .load(conn)
        .await
}

pub async fn permission_names(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<String>> {
    user_roles::table
        .inner_join(roles::table.inner_join(role_permissions::table.inner_join(permissions::table)))
        .filter(user_roles::user_id.eq(user_id))
        .select(permissions::name)
        .distinct()
        .load(conn)
        .await
}

/// Replaces the user's roles. Unknown role names are an error (`NotFound`).
pub async fn set_roles(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    names: &[String],
) -> QueryResult<()> {
    let ids: Vec<Uuid> = roles::table
        .filter(roles::name.eq_any(names))
        .select(roles::id)
        .load(conn)
        .await?;
    if ids.len()
        != names
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    {
        return Err(diesel::result::Error::NotFound);
    }
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = ids
        .into_iter()
        .map(|role_id| {
            (
                user_roles::user_id.eq(user_id),
                user_roles::role_id.eq(role_id),
            )
        })
        .collect();
    diesel::insert_into(user_roles::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}
