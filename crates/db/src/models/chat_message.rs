//! Chat history (`chat_messages`): each user's conversations with the models.
//! A conversation id is the client's string, scoped to its user: two users'
//! "default" conversations are two conversations.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::chat_messages;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = chat_messages, check_for_backend(diesel::pg::Pg))]
pub struct ChatMessage {
    pub id: Uuid,
    pub seq: i64,
    pub conversation_id: String,
    pub user_id: Uuid,
    pub role: String,
    pub content: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = chat_messages)]
pub struct NewChatMessage<'a> {
    pub conversation_id: &'a str,
    pub user_id: Uuid,
    pub role: &'a str,
    pub content: &'a str,
    pub provider: Option<&'a str>,
    pub model: Option<&'a str>,
    pub input_tokens: i32,
    pub output_tokens: i32,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    rows: &[NewChatMessage<'_>],
) -> QueryResult<Vec<ChatMessage>> {
    diesel::insert_into(chat_messages::table)
        .values(rows)
        .returning(ChatMessage::as_returning())
        .get_results(conn)
        .await
}

/// The latest `limit` messages of one user's conversation, oldest first.
pub async fn recent(
    conn: &mut AsyncPgConnection,
    conversation_id: &str,
    user_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<ChatMessage>> {
    let mut rows: Vec<ChatMessage> = chat_messages::table
        .filter(chat_messages::conversation_id.eq(conversation_id))
        .filter(chat_messages::user_id.eq(user_id))
        .order(chat_messages::seq.desc())
        .limit(limit)
        .select(ChatMessage::as_select())
        .load(conn)
        .await?;
    rows.reverse();
    Ok(rows)
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    conversation_id: &str,
    user_id: Uuid,
) -> QueryResult<usize> {
    diesel::delete(
        chat_messages::table
            .filter(chat_messages::conversation_id.eq(conversation_id))
            .filter(chat_messages::user_id.eq(user_id)),
    )
    .execute(conn)
    .await
}
