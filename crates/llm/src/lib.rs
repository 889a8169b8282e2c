//! Presswork's LLM layer: one provider trait, the providers behind it and the
//! ordered fallback router with timeouts, retries and circuit breaking.
//!
//! Everything provider-specific lives here and nowhere else: no other crate
//! knows a provider's wire format. This crate must not touch the database or
//! serve HTTP; callers pass in what it needs (configuration, budgets).
//!
//! Present so far: the trait and types, typed errors, the Ollama native
//! client (`/api/chat` streaming and not, `/api/tags`, `/api/version`) and the
//! router. OpenAI, Anthropic and Gemini clients, cost accounting and budgets
//! are still to come (see the LLM-providers issue).

pub mod error;
pub mod ollama;
pub mod router;
pub mod types;

pub use error::LlmError;
pub use types::{ChatRequest, ChatResponse, Message, Role, Usage};

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::BoxStream;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Text deltas of a streamed answer; the last item may carry usage.
pub type DeltaStream = BoxStream<'static, Result<types::Delta, LlmError>>;

/// One LLM service. Implementations translate to and from their wire format.
pub trait Provider: Send + Sync {
    /// Stable name: `ollama`, `openai`, `anthropic`, `gemini`.
    fn name(&self) -> &str;
    fn default_model(&self) -> &str;
    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;
    fn chat_stream<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>>;
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, LlmError>>;
}
