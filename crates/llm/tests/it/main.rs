#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod anthropic;
mod gemini;
mod ollama;
mod openai;
mod router;
mod structured;
mod support;
