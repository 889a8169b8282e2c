use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::{sessions, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub refresh_token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub refresh_token_hash: &'a str,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSession<'_>) -> QueryResult<Session> {
    diesel::insert_into(sessions::table)
        .values(new)
        .returning(Session::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_by_token_hash(
    conn: &mut AsyncPgConnection,
    hash: &str,
) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::refresh_token_hash.eq(hash))
        .select(Session::as_select())
        .first(conn)
        .await
        .optional()
}

/// Marks a session rotated if it is still current; false means the token was
/// already rotated or revoked (a reuse).
pub async fn mark_rotated(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    let n = diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::rotated_at.is_null())
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::rotated_at.eq(diesel::dsl::now),
        sessions::last_used_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn revoke_family(
    conn: &mut AsyncPgConnection,
    family_id: Uuid,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::family_id.eq(family_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .await
}

/// Revokes every session family of a user except `keep_family`.
pub async fn revoke_all_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    keep_family: Option<Uuid>,
    reason: &str,
) -> QueryResult<usize> {
    let keep = keep_family.unwrap_or_else(Uuid::nil);
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::family_id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Session>> {
    sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .await
        .optional()
}

/// The live session of each family of a user (not rotated, not revoked, not expired).
pub async fn list_current(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::rotated_at.is_null())
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .order(sessions::created_at.desc())
        .select(Session::as_select())
        .load(conn)
        .await
}

/// What authenticating an access token needs: is its session still alive and
/// its user still active? `None` when the session does not exist.
pub async fn access_check(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
) -> QueryResult<Option<(Uuid, bool, bool)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((users::id, sessions::revoked_at.is_null(), users::is_active))
        .first(conn)
        .await
        .optional()
}
