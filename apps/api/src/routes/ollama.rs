//! Ollama compatibility routes, for the front ends that manage a local
//! Ollama: health, models, status and warm-up, against the configured host
//! (`OLLAMA_HOST`), whether or not Ollama is in the fallback chain.

use std::time::Duration;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use presswork_llm::{LlmError, Provider};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

/// Probes answer quickly or count as down, whatever the generation timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

async fn probe<T>(f: impl std::future::Future<Output = Result<T, LlmError>>) -> Result<T, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "ollama did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OllamaHealth {
    pub connected: bool,
    /// `connected` or `disconnected`.
    pub status: &'static str,
    pub host: String,
    pub version: Option<String>,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

#[utoipa::path(tag = "ollama", security(("bearer" = ["models:read"]), ("api_key" = ["models:read"])),
    responses((status = 200, body = OllamaHealth), (status = 401), (status = 403)))]
#[get("/api/ollama/health")]
pub async fn ollama_health(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsRead>,
) -> Result<HttpResponse, ApiError> {
    let version = probe(state.ollama.version()).await;
    let host = state.ollama.base_url().to_owned();
    Ok(HttpResponse::Ok().json(OllamaHealth {
        connected: version.is_ok(),
        status: if version.is_ok() {
            "connected"
        } else {
            "disconnected"
        },
        message: match &version {
            Ok(v) => format!("Ollama {v} at {host}"),
            Err(e) => e.clone(),
        },
        version: version.ok(),
        host,
        timestamp: Utc::now(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OllamaModels {
    pub connected: bool,
    pub models: Vec<String>,
    pub total: usize,
    pub host: String,
    pub error: Option<String>,
}

#[utoipa::path(tag = "ollama", security(("bearer" = ["models:read"]), ("api_key" = ["models:read"])),
    responses((status = 200, body = OllamaModels), (status = 401), (status = 403)))]
#[get("/api/ollama/models")]
pub async fn ollama_models(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsRead>,
) -> Result<HttpResponse, ApiError> {
    let listed = probe(state.ollama.list_models()).await;
    let models: Vec<String> = listed
        .as_ref()
        .map(|ms| ms.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(OllamaModels {
        connected: listed.is_ok(),
        total: models.len(),
        models,
        host: state.ollama.base_url().to_owned(),
        error: listed.err(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OllamaStatus {
    pub running: bool,
    pub host: String,
    pub version: Option<String>,
    pub default_model: String,
    /// Models loaded in memory now (`/api/ps`).
    pub loaded_models: Vec<String>,
    /// Ollama is one of the router's providers.
    pub in_chain: bool,
    #[schema(value_type = Option<String>)]
    pub circuit: Option<presswork_llm::router::CircuitState>,
    pub error: Option<String>,
    pub timestamp: DateTime<Utc>,
}

#[utoipa::path(tag = "ollama", security(("bearer" = ["models:read"]), ("api_key" = ["models:read"])),
    responses((status = 200, body = OllamaStatus), (status = 401), (status = 403)))]
#[get("/api/ollama/status")]
pub async fn ollama_status(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsRead>,
) -> Result<HttpResponse, ApiError> {
    let (version, loaded) =
        tokio::join!(probe(state.ollama.version()), probe(state.ollama.running()));
    let error = version.as_ref().err().or(loaded.as_ref().err()).cloned();
    Ok(HttpResponse::Ok().json(OllamaStatus {
        running: version.is_ok(),
        host: state.ollama.base_url().to_owned(),
        version: version.ok(),
        default_model: state.ollama.default_model().to_owned(),
        loaded_models: loaded.unwrap_or_default(),
        in_chain: state.llm.provider("ollama").is_some(),
        circuit: state.llm.circuit("ollama"),
        error,
        timestamp: Utc::now(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarmupRequest {
    /// The configured default model when absent.
    pub model: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarmupResponse {
    /// `warmed`.
    pub status: &'static str,
    pub model: String,
    pub load_ms: u64,
}

/// Loads a model into Ollama's memory so the first real request is fast.
#[utoipa::path(tag = "ollama", security(("bearer" = ["models:test"]), ("api_key" = ["models:test"])),
    request_body(content = Option<WarmupRequest>),
    responses((status = 200, body = WarmupResponse), (status = 401), (status = 403), (status = 422),
        (status = 502, description = "Ollama is down or failed to load the model")))]
#[post("/api/ollama/warmup")]
pub async fn ollama_warmup(
    state: web::Data<AppState>,
    _auth: Require<perm::ModelsTest>,
    body: Option<web::Json<WarmupRequest>>,
) -> Result<HttpResponse, ApiError> {
    let model = body.and_then(|b| b.into_inner().model);
    if model
        .as_deref()
        .is_some_and(|m| m.trim().is_empty() || m.len() > 200)
    {
        return Err(ApiError::validation("model", "1 to 200 characters"));
    }
    let (model, took) = state.ollama.warmup(model.as_deref()).await?;
    Ok(HttpResponse::Ok().json(WarmupResponse {
        status: "warmed",
        model,
        load_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
    }))
}
