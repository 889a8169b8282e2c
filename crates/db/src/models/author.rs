use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::authors;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = authors, check_for_backend(diesel::pg::Pg))]
pub struct Author {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub email: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = authors)]
pub struct NewAuthor<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub email: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
}

/// The author profile linked to a user account, if any.
pub async fn find_by_user(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<Uuid>> {
    diesel_async::RunQueryDsl::first(
        authors::table
            .filter(authors::user_id.eq(user_id))
            .select(authors::id),
        conn,
    )
    .await
    .optional()
}

/// The whole author profile linked to a user account, if any.
pub async fn profile_of_user(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<Author>> {
    diesel_async::RunQueryDsl::first(
        authors::table
            .filter(authors::user_id.eq(user_id))
            .select(Author::as_select()),
        conn,
    )
    .await
    .optional()
}
