//! Chat with the models: one message in, the answer out (JSON, or
//! Server-Sent Events with `stream: true`), with each user's conversation
//! kept in `chat_messages` and sent back to the model within a context budget.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use presswork_db::models::chat_message;
use presswork_domain::chat::ConversationId;
use presswork_llm::LlmError;
use presswork_llm::router::Route;
use presswork_pipeline::chat as lib;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;
use crate::routes::models::{UsageDto, check_provider};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// 1 to 20,000 characters.
    pub message: String,
    /// `ollama`, `openai-gpt-4o`, `anthropic:claude-sonnet-4-5`, a bare model
    /// name, or absent for the fallback chain.
    pub model: Option<String>,
    /// Explicit provider (then `model` is that provider's model id).
    pub provider: Option<String>,
    /// Your name for the conversation (1 to 128 printable characters, e.g.
    /// `default`), scoped to you; a new one, named by the server, starts
    /// when absent.
    #[serde(rename = "conversationId", alias = "conversation_id")]
    #[schema(schema_with = crate::schemas::conversation_id_or_null)]
    pub conversation_id: Option<String>,
    /// 0 to 2.
    pub temperature: Option<f64>,
    /// 1 to 8,000.
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    pub max_tokens: Option<u32>,
    /// Answer as Server-Sent Events: `delta` events, then `done` or `error`.
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatReply {
    pub response: String,
    pub model: String,
    pub provider: String,
    #[serde(rename = "conversationId")]
    pub conversation_id: String,
    pub timestamp: DateTime<Utc>,
    pub usage: UsageDto,
}

fn route_of(body: &ChatBody) -> Result<Route, ApiError> {
    let route = match (&body.provider, &body.model) {
        (Some(p), model) => {
            check_provider(p)?;
            Route::only(p.clone(), model.clone().filter(|m| !m.trim().is_empty()))
        }
        (None, Some(m)) if m.trim().is_empty() || m.len() > 200 => {
            return Err(ApiError::validation("model", "1 to 200 characters"));
        }
        (None, Some(m)) => Route::parse(m),
        (None, None) => Route::default(),
    };
    Ok(route.purpose("chat"))
}

impl ChatBody {
    fn question(&self) -> lib::Question<'_> {
        lib::Question {
            message: &self.message,
            conversation_id: self.conversation_id.as_deref(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }
}

/// Stores a finished exchange on a connection of its own.
async fn store(state: &AppState, x: lib::Exchange<'_>) -> Result<(), ApiError> {
    let mut conn = state.conn().await?;
    Ok(lib::store(&mut conn, x).await?)
}

fn sse(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// Sends a message. The question and its answer are stored together once
/// the answer is complete; a failed call stores nothing.
#[utoipa::path(tag = "chat", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    request_body = ChatBody,
    responses((status = 200, body = ChatReply, description = "JSON, or text/event-stream when `stream` is true"),
        (status = 401), (status = 403),
        (status = 422), (status = 429, description = "rate limited upstream, or the monthly budget is spent"),
        (status = 502, description = "every provider failed"), (status = 504)))]
#[post("/api/chat")]
pub async fn chat(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    body: web::Json<ChatBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    body.question().check()?;
    let route = route_of(&body)?;
    let user_id = auth.principal.user_id;
    let slot = state.llm_slots.acquire(user_id)?;
    let mut conn = state.conn().await?;
    let (conversation_id, req) = lib::prepare(
        &mut conn,
        user_id,
        &body.question(),
        state.config.llm.chat_context_tokens,
    )
    .await?;
    drop(conn);
    if !body.stream {
        let res = state.llm.chat_routed(&req, &route).await?;
        store(
            &state,
            lib::Exchange {
                conversation_id: &conversation_id,
                user_id,
                question: &body.message,
                answer: &res.text,
                provider: &res.provider,
                model: &res.model,
                usage: res.usage,
            },
        )
        .await?;
        return Ok(HttpResponse::Ok().json(ChatReply {
            response: res.text,
            model: res.model,
            provider: res.provider,
            conversation_id: conversation_id.to_string(),
            timestamp: Utc::now(),
            usage: res.usage.into(),
        }));
    }
    // Streaming: a chain that fails before any token is an ordinary error
    // response; after that, failures arrive as an `error` event.
    let routed = state.llm.chat_stream(&req, &route).await?;
    let state = state.into_inner();
    let provider = routed.provider;
    let model = routed.model;
    let question = body.message;
    let stream = futures_util::stream::unfold(
        (routed.stream, String::new(), false),
        move |(mut inner, mut text, over)| {
            // The slot is held for as long as the answer streams.
            let _slot = &slot;
            let state = state.clone();
            let (provider, model, question) = (provider.clone(), model.clone(), question.clone());
            let conversation_id = conversation_id.clone();
            async move {
                if over {
                    return None;
                }
                let frame = match inner.next().await {
                    Some(Ok(d)) if !d.done => {
                        text.push_str(&d.text);
                        return Some((
                            Ok::<_, actix_web::Error>(sse(
                                "delta",
                                &serde_json::json!({"text": d.text}),
                            )),
                            (inner, text, false),
                        ));
                    }
                    Some(Ok(d)) => {
                        text.push_str(&d.text);
                        let usage = d.usage.unwrap_or_default();
                        let stored = store(
                            &state,
                            lib::Exchange {
                                conversation_id: &conversation_id,
                                user_id,
                                question: &question,
                                answer: &text,
                                provider: &provider,
                                model: &model,
                                usage,
                            },
                        )
                        .await;
                        match stored {
                            Ok(()) => sse(
                                "done",
                                &serde_json::json!({
                                    "response": text, "model": model, "provider": provider,
                                    "conversationId": conversation_id, "timestamp": Utc::now(),
                                    "usage": UsageDto::from(usage),
                                }),
                            ),
                            Err(e) => sse(
                                "error",
                                &serde_json::json!({"code": e.code, "message": e.message, "partial": text}),
                            ),
                        }
                    }
                    Some(Err(e)) => {
                        let partial = match &e {
                            LlmError::Interrupted { partial, .. } => partial.clone(),
                            _ => text.clone(),
                        };
                        sse(
                            "error",
                            &serde_json::json!({"code": format!("llm_{}", e.kind()), "message": e.to_string(), "partial": partial}),
                        )
                    }
                    None => return None,
                };
                Some((Ok(frame), (inner, text, true)))
            }
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryMessage {
    pub role: String,
    pub content: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    #[serde(rename = "conversationId")]
    pub conversation_id: String,
    pub messages: Vec<HistoryMessage>,
    pub total: usize,
}

/// The caller's own conversation (the latest 1,000 messages).
#[utoipa::path(tag = "chat", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]+$", description = "The conversation's id, as the client named it")),
    responses((status = 200, body = History), (status = 401), (status = 403), (status = 404)))]
#[get("/api/chat/history/{id}")]
pub async fn get_history(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ConversationId::parse("id", &id)?;
    let mut conn = state.conn().await?;
    let rows = chat_message::recent(&mut conn, id.as_str(), auth.principal.user_id, 1000).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found("no such conversation"));
    }
    let messages: Vec<HistoryMessage> = rows
        .into_iter()
        .map(|m| HistoryMessage {
            role: m.role,
            content: m.content,
            provider: m.provider,
            model: m.model,
            timestamp: m.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(History {
        conversation_id: id.to_string(),
        total: messages.len(),
        messages,
    }))
}

/// Deletes the caller's own conversation.
#[utoipa::path(tag = "chat", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]+$", description = "The conversation's id, as the client named it")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/chat/history/{id}")]
pub async fn delete_history(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ConversationId::parse("id", &id)?;
    let mut conn = state.conn().await?;
    let n = chat_message::delete(&mut conn, id.as_str(), auth.principal.user_id).await?;
    if n == 0 {
        return Err(ApiError::not_found("no such conversation"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatModel {
    /// What to send as `model`.
    pub id: String,
    pub provider: String,
    pub model: String,
    pub display_name: String,
    pub is_free: bool,
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatModels {
    pub models: Vec<ChatModel>,
    /// Used when `model` is absent: the first provider of the chain.
    pub default: Option<String>,
}

/// The `model` values chat accepts: each configured provider (its default
/// model) and each model it lists.
#[utoipa::path(tag = "chat", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    responses((status = 200, body = ChatModels), (status = 401), (status = 403)))]
#[get("/api/chat/models")]
pub async fn chat_models(
    state: web::Data<AppState>,
    _auth: Require<perm::ContentCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut models = Vec::new();
    for p in state.llm.models().await {
        models.push(ChatModel {
            id: p.provider.clone(),
            provider: p.provider.clone(),
            model: p.default_model.clone(),
            display_name: format!("{} ({})", p.provider, p.default_model),
            is_free: p.is_local,
            available: p.available,
        });
        for m in p.models {
            models.push(ChatModel {
                id: format!("{}-{}", p.provider, m.name),
                provider: p.provider.clone(),
                display_name: m.display_name.unwrap_or_else(|| m.name.clone()),
                model: m.name,
                is_free: p.is_local,
                available: p.available,
            });
        }
    }
    Ok(HttpResponse::Ok().json(ChatModels {
        default: state.llm.provider_names().into_iter().next(),
        models,
    }))
}
