use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(c: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: c.into(),
        }
    }
    pub fn user(c: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: c.into(),
        }
    }
    pub fn assistant(c: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: c.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// The provider's default when `None`.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    /// Ask for a JSON object as the whole answer.
    pub json_mode: bool,
    /// The exact shape of that object, asked for through the provider's
    /// native structured output (implies `json_mode`). The router drops it,
    /// keeping `json_mode`, for a provider that refused it once.
    pub schema: Option<JsonSchema>,
}

/// A JSON Schema for a structured answer. It keeps to the subset every
/// provider accepts: objects whose properties are all `required` with
/// `additionalProperties: false` (OpenAI's strict mode), `string`, `number`,
/// `integer`, `boolean`, `array` with `items`, and `enum`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    /// `a-z`, `A-Z`, `0-9`, `_` and `-`: OpenAI's schema name, Anthropic's
    /// tool name.
    pub name: String,
    pub description: String,
    pub schema: serde_json::Value,
}

impl JsonSchema {
    /// Gemini's `responseSchema` is an OpenAPI schema subset without
    /// `additionalProperties`; everything else of the subset above is
    /// the same.
    pub fn without_additional_properties(&self) -> serde_json::Value {
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    map.remove("additionalProperties");
                    map.values_mut().for_each(strip);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = self.schema.clone();
        strip(&mut v);
        v
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub text: String,
    pub provider: String,
    /// The model that actually answered.
    pub model: String,
    pub usage: Usage,
    pub latency: Duration,
    /// Dollars, filled in by the router from its price table (`None` from a
    /// provider called directly, or for a model without a price).
    pub cost_usd: Option<f64>,
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub text: String,
    /// Set on the final piece when the provider reports usage.
    pub usage: Option<Usage>,
    pub done: bool,
}

/// A model a provider lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// The id to send back in a request.
    pub name: String,
    pub display_name: Option<String>,
    pub context_window: Option<u64>,
}

impl ModelInfo {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            display_name: None,
            context_window: None,
        }
    }
}

/// A provider's API key. Its `Debug` never shows it.
#[derive(Clone, Default)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "ApiKey(none)"
        } else {
            "ApiKey(***)"
        })
    }
}

/// Where a provider lives and how long a call may take.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    pub api_key: ApiKey,
    pub default_model: String,
    /// The whole of a non-streamed call; the longest silence in a stream.
    pub timeout: Duration,
}
