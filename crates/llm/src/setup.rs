//! Builds the router from configuration: the chain in its configured order,
//! leaving out providers that are disabled or not configured (no key where
//! one is needed).

use std::sync::Arc;
use std::time::Duration;

use presswork_domain::config::{LlmConfig, ProviderConfig};
use secrecy::ExposeSecret;

use crate::anthropic::Anthropic;
use crate::gemini::Gemini;
use crate::ollama::Ollama;
use crate::openai::OpenAi;
use crate::pricing::{Price, PriceTable};
use crate::router::{Route, Router, RouterConfig};
use crate::types::{ApiKey, ClientConfig};
use crate::{LlmError, Provider};

pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

fn client_config(p: &ProviderConfig, default_base: &str) -> ClientConfig {
    ClientConfig {
        base_url: p
            .base_url
            .clone()
            .unwrap_or_else(|| default_base.to_owned()),
        api_key: p
            .api_key
            .as_ref()
            .map(|k| ApiKey::new(k.expose_secret()))
            .unwrap_or_default(),
        default_model: p.default_model.clone(),
        timeout: Duration::from_secs(p.timeout_s.max(1)),
    }
}

fn has_key(p: &ProviderConfig) -> bool {
    p.api_key
        .as_ref()
        .is_some_and(|k| !k.expose_secret().trim().is_empty())
}

/// The provider a name stands for, when it is enabled and configured:
/// Ollama needs a host, OpenAI a key or a base URL (compatible servers
/// often need no key), Anthropic and Gemini a key.
pub fn provider(cfg: &LlmConfig, name: &str) -> Result<Option<Arc<dyn Provider>>, LlmError> {
    let p: Arc<dyn Provider> = match name {
        "ollama" if cfg.ollama.enabled && cfg.ollama.base_url.is_some() => {
            Arc::new(Ollama::new(client_config(&cfg.ollama, ""))?)
        }
        "openai"
            if cfg.openai.enabled && (has_key(&cfg.openai) || cfg.openai.base_url.is_some()) =>
        {
            Arc::new(OpenAi::new(client_config(&cfg.openai, OPENAI_BASE_URL))?)
        }
        "anthropic" if cfg.anthropic.enabled && has_key(&cfg.anthropic) => Arc::new(
            Anthropic::new(client_config(&cfg.anthropic, "https://api.anthropic.com"))?,
        ),
        "gemini" if cfg.gemini.enabled && has_key(&cfg.gemini) => Arc::new(Gemini::new(
            client_config(&cfg.gemini, "https://generativelanguage.googleapis.com"),
        )?),
        _ => return Ok(None),
    };
    Ok(Some(p))
}

pub fn prices(cfg: &LlmConfig) -> PriceTable {
    PriceTable::new(cfg.prices.iter().map(|p| {
        (
            p.model.clone(),
            Price {
                input: p.input,
                output: p.output,
            },
        )
    }))
}

pub fn router_config(cfg: &LlmConfig) -> RouterConfig {
    RouterConfig {
        max_retries: cfg.max_retries,
        base_backoff: Duration::from_millis(cfg.backoff_ms),
        max_backoff: Duration::from_millis(cfg.max_backoff_ms),
        breaker_threshold: cfg.breaker_threshold.max(1),
        breaker_cooldown: Duration::from_secs(cfg.breaker_cooldown_s),
        fail_on_auth_error: cfg.fail_on_auth_error,
        models_ttl: Duration::from_secs(cfg.models_cache_s),
        stages: cfg
            .stages
            .iter()
            .map(|(stage, spec)| (stage.clone(), Route::preferred(spec)))
            .collect(),
    }
}

/// The router of this configuration (without a ledger).
pub fn router(cfg: &LlmConfig) -> Result<Router, LlmError> {
    let chain = cfg
        .chain()
        .map_err(|e| LlmError::AllFailed(e.to_string()))?;
    let mut providers = Vec::new();
    for name in &chain {
        if let Some(p) = provider(cfg, name)? {
            providers.push(p);
        }
    }
    Ok(Router::new(providers, router_config(cfg)).with_prices(prices(cfg)))
}
