//! Presswork's LLM layer: one provider trait, the providers behind it and the
//! ordered fallback router with timeouts, retries and circuit breaking.
//!
//! Everything provider-specific lives here and nowhere else: no other crate
//! knows a provider's wire format. This crate must not touch the database or
//! serve HTTP; callers pass in what it needs (configuration, budgets).
//!
//! Providers: Ollama's native API, OpenAI (and compatible servers) through
//! async-openai, Anthropic's Messages API and Gemini's generateContent. The
//! router ([`router::Router`]) chains them with retries, circuit breakers,
//! streaming fallback, per-stage routes, cost accounting and a budget check
//! through a [`router::Ledger`] the apps implement over the database.
//! [`setup`] builds it all from configuration.

pub mod anthropic;
pub mod error;
pub mod gemini;
mod http;
#[cfg(feature = "prometheus")]
pub mod metrics;
pub mod ollama;
pub mod openai;
pub mod pricing;
pub mod router;
pub mod setup;
pub mod types;

pub use error::LlmError;
pub use types::{ChatRequest, ChatResponse, JsonSchema, Message, Role, Usage};

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
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<types::ModelInfo>, LlmError>>;
    /// The request fields of this provider's structured output (a schema):
    /// a 400 whose message names one of them is a server that refuses the
    /// feature, and the router asks it again with prompt-only JSON.
    fn structured_fields(&self) -> &'static [&'static str] {
        &[]
    }
    /// Runs on this machine or the operator's own: its calls cost nothing.
    fn is_local(&self) -> bool {
        false
    }
}
