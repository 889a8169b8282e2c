use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::api_keys;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub key_prefix: String,
    pub key_hash: String,
    pub permissions: Vec<Option<String>>,
    pub allowed_ips: Vec<Option<String>>,
    pub rate_limit_per_hour: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub owner_id: Uuid,
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub key_hash: &'a str,
    pub permissions: Vec<Option<String>>,
    pub allowed_ips: Vec<Option<String>>,
    pub rate_limit_per_hour: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewApiKey<'_>) -> QueryResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values(new)
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_by_hash(conn: &mut AsyncPgConnection, hash: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()
}

/// Keys of one owner, or of everyone when `owner` is `None`; newest first.
pub async fn list(conn: &mut AsyncPgConnection, owner: Option<Uuid>) -> QueryResult<Vec<ApiKey>> {
    let mut q = api_keys::table.select(ApiKey::as_select()).into_boxed();
    if let Some(owner) = owner {
        q = q.filter(api_keys::owner_id.eq(owner));
    }
    q.order(api_keys::created_at.desc()).load(conn).await
}

/// Revokes a key (of `owner` only, unless `None`). False when there is no such key.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: Option<Uuid>,
) -> QueryResult<bool> {
    let mut q = diesel::update(api_keys::table)
        .filter(api_keys::id.eq(id))
        .filter(api_keys::revoked_at.is_null())
        .into_boxed();
    if let Some(owner) = owner {
        q = q.filter(api_keys::owner_id.eq(owner));
    }
    Ok(q.set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?
        == 1)
}

pub async fn touch_last_used(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(|_| ())
}
