//! Presswork's LLM layer: one provider trait, the providers behind it (Ollama,
//! OpenAI and OpenAI-compatible servers, Anthropic, Gemini) and the ordered
//! fallback router with timeouts, retries, circuit breaking and token/cost
//! accounting.
//!
//! Everything provider-specific lives here and nowhere else: no other crate
//! knows a provider's wire format. This crate must not touch the database or
//! HTTP serving; callers pass in what it needs (configuration, budgets).
//!
//! Filled by the LLM-providers issue; nothing here yet pretends to call a model.
