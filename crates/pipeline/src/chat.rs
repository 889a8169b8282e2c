//! Chat with the models: the rules for a message, each user's conversation
//! read back within the context budget, the system prompt (`prompts`), and
//! the exchange stored once the answer is complete. The API's handler
//! extracts, authorises, calls these around the router, and frames the
//! answer (JSON or Server-Sent Events).

use presswork_db::AsyncPgConnection;
use presswork_db::models::chat_message::{self, ChatMessage, NewChatMessage};
use presswork_domain::DomainError;
use presswork_domain::chat::ConversationId;
use presswork_llm::{ChatRequest, Message, Usage};
use uuid::Uuid;

use crate::prompts;

pub const MAX_MESSAGE_CHARS: usize = 20_000;
/// Messages read back from history before the context budget is applied.
pub const HISTORY_WINDOW: i64 = 200;

/// What a caller asks.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub message: &'a str,
    /// The caller's name for the conversation; a new one when absent.
    pub conversation_id: Option<&'a str>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
}

impl Question<'_> {
    /// The rules: 1 to 20,000 characters, temperature 0 to 2, max_tokens 1
    /// to 8,000, a well-formed conversation id.
    pub fn check(&self) -> Result<(), DomainError> {
        let n = self.message.chars().count();
        if self.message.trim().is_empty() || n > MAX_MESSAGE_CHARS {
            return Err(DomainError::new(
                "message",
                format!("1 to {MAX_MESSAGE_CHARS} characters (got {n})"),
            ));
        }
        if self
            .temperature
            .is_some_and(|t| !(0.0..=2.0).contains(&t) || t.is_nan())
        {
            return Err(DomainError::new("temperature", "between 0 and 2"));
        }
        if self.max_tokens.is_some_and(|m| !(1..=8000).contains(&m)) {
            return Err(DomainError::new("max_tokens", "between 1 and 8000"));
        }
        if let Some(id) = self.conversation_id {
            ConversationId::parse("conversationId", id)?;
        }
        Ok(())
    }
}

/// The newest history that fits `budget_tokens` (four characters a token),
/// oldest first.
pub fn within_budget(history: Vec<ChatMessage>, budget_tokens: u32) -> Vec<Message> {
    let mut budget = usize::try_from(budget_tokens)
        .unwrap_or(usize::MAX)
        .saturating_mul(4);
    let mut kept = Vec::new();
    for m in history.into_iter().rev() {
        let cost = m.content.chars().count();
        if cost > budget {
            break;
        }
        budget -= cost;
        kept.push(match m.role.as_str() {
            "assistant" => Message::assistant(m.content),
            _ => Message::user(m.content),
        });
    }
    kept.reverse();
    kept
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error(transparent)]
    Db(#[from] presswork_db::QueryError),
}

/// Checks the question, reads the user's conversation back within
/// `context_tokens` and builds the request.
pub async fn prepare(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    q: &Question<'_>,
    context_tokens: u32,
) -> Result<(ConversationId, ChatRequest), ChatError> {
    q.check()?;
    let conversation_id = match q.conversation_id {
        Some(id) => ConversationId::parse("conversationId", id)?,
        None => ConversationId::new_random(),
    };
    let history =
        chat_message::recent(conn, conversation_id.as_str(), user_id, HISTORY_WINDOW).await?;
    let budget = context_tokens
        .saturating_sub(u32::try_from(q.message.chars().count() / 4).unwrap_or(u32::MAX));
    let mut messages = vec![Message::system(prompts::CHAT_SYSTEM)];
    messages.extend(within_budget(history, budget));
    messages.push(Message::user(q.message.to_owned()));
    Ok((
        conversation_id,
        ChatRequest {
            messages,
            temperature: q.temperature,
            max_tokens: q.max_tokens,
            ..Default::default()
        },
    ))
}

/// A question and its complete answer.
pub struct Exchange<'a> {
    pub conversation_id: &'a ConversationId,
    pub user_id: Uuid,
    pub question: &'a str,
    pub answer: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub usage: Usage,
}

/// Stores the exchange (both messages in one statement).
pub async fn store(conn: &mut AsyncPgConnection, x: Exchange<'_>) -> Result<(), ChatError> {
    let tokens = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    chat_message::insert(
        conn,
        &[
            NewChatMessage {
                conversation_id: x.conversation_id.as_str(),
                user_id: x.user_id,
                role: "user",
                content: x.question,
                provider: None,
                model: None,
                input_tokens: tokens(x.usage.input_tokens),
                output_tokens: 0,
            },
            NewChatMessage {
                conversation_id: x.conversation_id.as_str(),
                user_id: x.user_id,
                role: "assistant",
                content: x.answer,
                provider: Some(x.provider),
                model: Some(x.model),
                input_tokens: 0,
                output_tokens: tokens(x.usage.output_tokens),
            },
        ],
    )
    .await?;
    Ok(())
}
