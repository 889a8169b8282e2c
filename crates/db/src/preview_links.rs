//! Preview links (`preview_links`): hashed tokens that show one post, or
//! the post a review would make, as the public would see it once published,
//! until they expire or are revoked.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::preview_links;

/// What a link shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Post(Uuid),
    /// A content task awaiting review: the post its approval would make.
    Review(Uuid),
}

/// A link as its editors see it (never with its token).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = preview_links, check_for_backend(diesel::pg::Pg))]
pub struct PreviewLink {
    pub id: Uuid,
    pub post_id: Option<Uuid>,
    pub content_task_id: Option<Uuid>,
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

fn of(target: Target) -> preview_links::BoxedQuery<'static, diesel::pg::Pg> {
    match target {
        Target::Post(id) => preview_links::table
            .filter(preview_links::post_id.eq(id))
            .into_boxed(),
        Target::Review(id) => preview_links::table
            .filter(preview_links::content_task_id.eq(id))
            .into_boxed(),
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    target: Target,
    token_hash: &str,
    created_by: Uuid,
    lifetime: chrono::Duration,
) -> QueryResult<PreviewLink> {
    let now = Utc::now();
    let (post, review) = match target {
        Target::Post(id) => (Some(id), None),
        Target::Review(id) => (None, Some(id)),
    };
    diesel::insert_into(preview_links::table)
        .values((
            preview_links::post_id.eq(post),
            preview_links::content_task_id.eq(review),
            preview_links::token_hash.eq(token_hash),
            preview_links::created_by.eq(Some(created_by)),
            preview_links::created_at.eq(now),
            preview_links::expires_at.eq(now + lifetime),
        ))
        .returning(PreviewLink::as_returning())
        .get_result(conn)
        .await
}

/// A target's links, newest first.
pub async fn list(conn: &mut AsyncPgConnection, target: Target) -> QueryResult<Vec<PreviewLink>> {
    of(target)
        .order(preview_links::created_at.desc())
        .select(PreviewLink::as_select())
        .load(conn)
        .await
}

/// Revokes one of a target's links; `None` when it has no such link.
/// Revoking twice keeps the first time.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    target: Target,
    id: Uuid,
) -> QueryResult<Option<PreviewLink>> {
    let link: Option<Uuid> = of(target)
        .filter(preview_links::id.eq(id))
        .select(preview_links::id)
        .first(conn)
        .await
        .optional()?;
    let Some(link) = link else { return Ok(None) };
    diesel::update(preview_links::table.find(link))
        .set(preview_links::revoked_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("coalesce(revoked_at, now())")))
        .returning(PreviewLink::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// What a presented token opens, and who made the link: only through a
/// link neither expired nor revoked.
pub async fn open(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<(Target, Option<Uuid>)>> {
    let row: Option<(Option<Uuid>, Option<Uuid>, Option<Uuid>)> = preview_links::table
        .filter(preview_links::token_hash.eq(token_hash))
        .filter(preview_links::revoked_at.is_null())
        .filter(preview_links::expires_at.gt(diesel::dsl::now))
        .select((
            preview_links::post_id,
            preview_links::content_task_id,
            preview_links::created_by,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(post, review, by)| match (post, review) {
        (Some(p), _) => Some((Target::Post(p), by)),
        (None, Some(r)) => Some((Target::Review(r), by)),
        (None, None) => None,
    }))
}
