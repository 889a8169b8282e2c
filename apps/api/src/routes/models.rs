//! What models exist and how the providers are doing: live listings (cached
//! briefly by the router), provider health and counters, and a test prompt.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use presswork_llm::router::{CircuitState, PROVIDERS, ProviderHealth, Route};
use presswork_llm::{ChatRequest, Message};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDto {
    /// The model id to send back (`model` in chat and tests).
    pub name: String,
    pub display_name: String,
    pub provider: String,
    /// Runs locally (Ollama): no per-token cost.
    pub is_free: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// The provider answered its listing.
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    pub models: Vec<ModelDto>,
    pub total: usize,
    pub timestamp: DateTime<Utc>,
}

/// Every configured provider's models. A provider that cannot list them is
/// shown with its default model, `available: false`.
#[utoipa::path(tag = "models", security(("bearer" = ["models:read"]), ("api_key" = ["models:read"])),
    responses((status = 200, body = ModelsResponse), (status = 401), (status = 403)))]
#[get("/api/models")]
pub async fn list_models(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsRead>,
) -> Result<HttpResponse, ApiError> {
    let mut models = Vec::new();
    for p in state.llm.models().await {
        let entries = if p.available {
            p.models
        } else {
            vec![presswork_llm::types::ModelInfo::named(
                p.default_model.clone(),
            )]
        };
        for m in entries {
            models.push(ModelDto {
                display_name: m.display_name.unwrap_or_else(|| m.name.clone()),
                name: m.name,
                provider: p.provider.clone(),
                is_free: p.is_local,
                context_window: m.context_window,
                available: p.available,
            });
        }
    }
    Ok(HttpResponse::Ok().json(ModelsResponse {
        total: models.len(),
        models,
        timestamp: Utc::now(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDto {
    pub name: String,
    /// Enabled and given what it needs (a key, a host).
    pub configured: bool,
    /// Position in the fallback chain (0 first); absent when not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    /// The last probe (model listing) succeeded.
    pub reachable: bool,
    pub last_probe_latency_ms: Option<u64>,
    pub last_probe_at: Option<DateTime<Utc>>,
    /// The circuit in this API process (see `processes` for the workers').
    #[schema(value_type = Option<String>, example = "closed")]
    pub circuit: Option<CircuitState>,
    /// Open in at least one process (this API or a live worker): calls
    /// from there are not going to this provider now.
    pub open_anywhere: bool,
    /// The provider as each process sees it: this API process first, then
    /// every live worker (from its last heartbeat).
    pub processes: Vec<ProcessViewDto>,
    pub last_error: Option<String>,
    /// Since this API process started.
    pub requests: u64,
    pub failures: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// One process's view of one provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessViewDto {
    /// `api`, or the worker's id.
    pub process: String,
    #[schema(value_type = String, example = "closed")]
    pub circuit: CircuitState,
    pub consecutive_failures: u32,
    /// Since that process started.
    pub requests: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    /// When the process reported it (now, for the API).
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersResponse {
    pub providers: Vec<ProviderDto>,
    pub timestamp: DateTime<Utc>,
}

/// Each known provider: configured or not, reachable (probed through its
/// model listing, cached like `/api/models`), circuit state and counters.
#[utoipa::path(tag = "models", security(("bearer" = ["models:read"]), ("api_key" = ["models:read"])),
    responses((status = 200, body = ProvidersResponse), (status = 401), (status = 403)))]
#[get("/api/models/providers")]
pub async fn list_providers(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsRead>,
) -> Result<HttpResponse, ApiError> {
    let listed = state.llm.models().await;
    let chain = state.llm.provider_names();
    let now = Utc::now();
    // (process, when, its view) for this process and every live worker.
    let mut views: Vec<(String, DateTime<Utc>, ProviderHealth)> = state
        .llm
        .health()
        .into_iter()
        .map(|h| ("api".to_owned(), now, h))
        .collect();
    let mut conn = state.conn().await?;
    let workers =
        presswork_db::models::worker::live(&mut conn, presswork_domain::tasks::LIVE_WITHIN_S)
            .await?;
    drop(conn);
    for w in workers {
        // A row this code cannot read (an older worker) shows nothing.
        let seen: Vec<ProviderHealth> = serde_json::from_value(w.providers).unwrap_or_default();
        views.extend(
            seen.into_iter()
                .map(|h| (w.id.clone(), w.last_heartbeat_at, h)),
        );
    }
    let providers = PROVIDERS
        .iter()
        .map(|name| {
            let position = chain.iter().position(|c| c == name);
            let stats = state.llm.stats(name).unwrap_or_default();
            let probe = stats.last_probe.clone();
            ProviderDto {
                name: (*name).to_owned(),
                configured: position.is_some(),
                chain_position: position,
                default_model: listed
                    .iter()
                    .find(|p| p.provider == *name)
                    .map(|p| p.default_model.clone()),
                reachable: probe.as_ref().is_some_and(|p| p.ok),
                last_probe_latency_ms: probe.as_ref().map(|p| p.latency_ms),
                last_probe_at: probe.as_ref().and_then(|p| {
                    DateTime::from_timestamp(i64::try_from(p.at_unix_s).unwrap_or(0), 0)
                }),
                circuit: state.llm.circuit(name),
                open_anywhere: views
                    .iter()
                    .any(|(_, _, h)| h.provider == *name && h.circuit == CircuitState::Open),
                processes: views
                    .iter()
                    .filter(|(_, _, h)| h.provider == *name)
                    .map(|(process, at, h)| ProcessViewDto {
                        process: process.clone(),
                        circuit: h.circuit,
                        consecutive_failures: h.consecutive_failures,
                        requests: h.requests,
                        failures: h.failures,
                        last_error: h.last_error.clone(),
                        reported_at: *at,
                    })
                    .collect(),
                last_error: stats
                    .last_error
                    .clone()
                    .or_else(|| probe.and_then(|p| p.error)),
                requests: stats.requests,
                failures: stats.failures,
                input_tokens: stats.input_tokens,
                output_tokens: stats.output_tokens,
                cost_usd: stats.cost_usd,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(ProvidersResponse {
        providers,
        timestamp: now,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `ollama`, `openai`, `anthropic` or `gemini`.
    pub provider: String,
    /// The provider's default when absent.
    pub model: Option<String>,
    /// At most 4,000 characters; a short greeting when absent.
    pub prompt: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDto {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl From<presswork_llm::Usage> for UsageDto {
    fn from(u: presswork_llm::Usage) -> Self {
        Self {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            total_tokens: u.input_tokens + u.output_tokens,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResponse {
    pub ok: bool,
    pub provider: String,
    pub model: String,
    pub latency_ms: u64,
    pub usage: UsageDto,
    /// The first 200 characters of the answer.
    pub output_preview: String,
}

pub(crate) fn check_provider(name: &str) -> Result<(), ApiError> {
    if PROVIDERS.contains(&name) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "provider",
            format!(
                "unknown provider '{name}' (known: {})",
                PROVIDERS.join(", ")
            ),
        ))
    }
}

/// Sends one prompt to one provider (no fallback to others; the router's
/// retries apply) and reports what came back, or the typed error.
#[utoipa::path(tag = "models", security(("bearer" = ["models:test"]), ("api_key" = ["models:test"])),
    request_body = TestRequest,
    responses((status = 200, body = TestResponse), (status = 401), (status = 403), (status = 422),
        (status = 429, description = "rate limited upstream, or the monthly budget is spent"),
        (status = 502, description = "the provider failed; `code` names how"), (status = 504)))]
#[post("/api/models/test")]
pub async fn test_model(
    state: web::Data<AppState>,
    auth: Require<perm::ModelsTest>,
    body: web::Json<TestRequest>,
) -> Result<HttpResponse, ApiError> {
    let _slot = state.llm_slots.acquire(auth.principal.user_id)?;
    let body = body.into_inner();
    check_provider(&body.provider)?;
    let prompt = body
        .prompt
        .unwrap_or_else(|| "Reply with one short sentence greeting a new reader.".to_owned());
    if prompt.trim().is_empty() || prompt.chars().count() > 4000 {
        return Err(ApiError::validation("prompt", "1 to 4,000 characters"));
    }
    let req = ChatRequest {
        messages: vec![Message::user(prompt)],
        max_tokens: Some(128),
        ..Default::default()
    };
    let route = Route::only(body.provider.clone(), body.model).purpose("test");
    let res = state.llm.chat_routed(&req, &route).await?;
    Ok(HttpResponse::Ok().json(TestResponse {
        ok: true,
        provider: res.provider,
        model: res.model,
        latency_ms: u64::try_from(res.latency.as_millis()).unwrap_or(u64::MAX),
        usage: res.usage.into(),
        output_preview: res.text.chars().take(200).collect(),
    }))
}
