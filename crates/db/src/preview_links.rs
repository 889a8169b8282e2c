//! Preview links (`preview_links`): hashed tokens that show one post as the
//! public would see it once published, until they expire or are revoked.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::preview_links;

/// A link as its post's editors see it (never with its token).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = preview_links, check_for_backend(diesel::pg::Pg))]
pub struct PreviewLink {
    pub id: Uuid,
    pub post_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl PreviewLink {
    /// Whether the link still opens its preview at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    post_id: Uuid,
    token_hash: &str,
    created_by: Uuid,
    lifetime: chrono::Duration,
) -> QueryResult<PreviewLink> {
    let now = Utc::now();
    diesel::insert_into(preview_links::table)
        .values((
            preview_links::post_id.eq(post_id),
            preview_links::token_hash.eq(token_hash),
            preview_links::created_by.eq(Some(created_by)),
            preview_links::created_at.eq(now),
            preview_links::expires_at.eq(now + lifetime),
        ))
        .returning(PreviewLink::as_returning())
        .get_result(conn)
        .await
}

/// A post's links, newest first.
pub async fn list(conn: &mut AsyncPgConnection, post_id: Uuid) -> QueryResult<Vec<PreviewLink>> {
    preview_links::table
        .filter(preview_links::post_id.eq(post_id))
        .order(preview_links::created_at.desc())
        .select(PreviewLink::as_select())
        .load(conn)
        .await
}

/// Revokes one of a post's links; `None` when the post has no such link.
/// Revoking twice keeps the first time.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    post_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<PreviewLink>> {
    diesel::update(
        preview_links::table
            .filter(preview_links::id.eq(id))
            .filter(preview_links::post_id.eq(post_id)),
    )
    .set(preview_links::revoked_at.eq(diesel::dsl::sql::<
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
    >("coalesce(revoked_at, now())")))
    .returning(PreviewLink::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The post a presented token opens: only through a link neither expired
/// nor revoked.
pub async fn open(conn: &mut AsyncPgConnection, token_hash: &str) -> QueryResult<Option<Uuid>> {
    preview_links::table
        .filter(preview_links::token_hash.eq(token_hash))
        .filter(preview_links::revoked_at.is_null())
        .filter(preview_links::expires_at.gt(diesel::dsl::now))
        .select(preview_links::post_id)
        .first(conn)
        .await
        .optional()
}
