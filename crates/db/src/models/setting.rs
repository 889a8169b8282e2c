use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::settings;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = settings, check_for_backend(diesel::pg::Pg))]
pub struct Setting {
    pub id: Uuid,
    pub key: String,
    pub value: Option<String>,
    pub data_type: String,
    pub category: String,
    pub is_secret: bool,
    pub encrypted_value: Option<Vec<u8>>,
    pub description: String,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = settings, treat_none_as_null = true)]
pub struct SettingWrite<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
    pub data_type: &'a str,
    pub category: &'a str,
    pub is_secret: bool,
    pub encrypted_value: Option<&'a [u8]>,
    pub description: &'a str,
    pub updated_by: Option<Uuid>,
}

pub async fn upsert(
    conn: &mut AsyncPgConnection,
    write: &SettingWrite<'_>,
) -> QueryResult<Setting> {
    diesel::insert_into(settings::table)
        .values(write)
        .on_conflict(settings::key)
        .do_update()
        .set(write)
        .returning(Setting::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<Option<Setting>> {
    settings::table
        .filter(settings::key.eq(key))
        .select(Setting::as_select())
        .first(conn)
        .await
        .optional()
}

/// The stored JSON value of a non-secret setting; `None` when unset, secret
/// or not JSON.
pub async fn value(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Option<serde_json::Value>> {
    Ok(find(conn, key)
        .await?
        .filter(|s| !s.is_secret)
        .and_then(|s| s.value)
        .and_then(|v| serde_json::from_str(&v).ok()))
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    category: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Setting>, i64)> {
    let mut q = settings::table.select(Setting::as_select()).into_boxed();
    let mut c = settings::table.count().into_boxed();
    if let Some(category) = category {
        q = q.filter(settings::category.eq(category.to_owned()));
        c = c.filter(settings::category.eq(category.to_owned()));
    }
    let rows = q
        .order(settings::key.asc())
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    let total = c.get_result(conn).await?;
    Ok((rows, total))
}

pub async fn delete(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<bool> {
    Ok(
        diesel::delete(settings::table.filter(settings::key.eq(key)))
            .execute(conn)
            .await?
            == 1,
    )
}

pub async fn any_secret(conn: &mut AsyncPgConnection) -> QueryResult<Option<Setting>> {
    settings::table
        .filter(settings::is_secret)
        .select(Setting::as_select())
        .first(conn)
        .await
        .optional()
}
