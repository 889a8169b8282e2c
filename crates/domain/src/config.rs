//! Typed configuration shared by the binaries. Plain data with defaults and
//! validation; loading it from files and the environment is in `runtime`.
//!
//! Every field can be set through `PRESSWORK__SECTION__KEY` (e.g.
//! `PRESSWORK__HTTP__ADDRESS`); the conventional names users expect
//! (`DATABASE_URL`, `PORT`, `OPENAI_API_KEY`, ...) are honoured too, see
//! `runtime::CONVENTIONAL_ENV`.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A configuration value that failed validation, naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub llm: LlmConfig,
    pub integrations: IntegrationsConfig,
    pub pipeline: PipelineConfig,
    pub worker: WorkerConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpConfig {
    /// `host:port` to listen on.
    pub address: String,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty means no cross-origin access.
    pub cors_allowed_origins: Vec<String>,
    /// Request headers a cross-origin browser client may send (preflight
    /// `Access-Control-Request-Headers`), lower case.
    pub cors_allowed_headers: Vec<String>,
    /// Addresses or CIDR blocks of the proxies and load balancers in front;
    /// only their `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` are
    /// believed. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout_s: u64,
    /// Actix worker threads; 0 means one per core ([`HttpConfig::worker_count`]).
    /// Each worker has its own share of `database.pool_size` connections
    /// (see `AppState::attach_worker_pool`).
    pub workers: usize,
    /// How long anonymous CMS reads are served from memory (0 turns it off).
    /// Any content change empties the cache at once.
    pub public_cache_ttl_ms: u64,
    /// Most answers the cache keeps.
    pub public_cache_entries: usize,
    /// Most bytes the cache keeps (bodies, keys and bookkeeping); a single
    /// answer over a sixteenth of it is served but not kept.
    pub public_cache_bytes: usize,
    /// Requests per minute per client IP without credentials (0: off).
    pub rate_limit_anonymous_per_min: u64,
    /// Requests per minute per user or API key (0: off).
    pub rate_limit_principal_per_min: u64,
    /// Requests per minute for the whole service, all processes (0: off).
    pub rate_limit_global_per_min: u64,
    /// How often each process shares its counts.
    pub rate_limit_flush_ms: u64,
}

impl AppConfig {
    /// How the API shares `database.pool_size` out: half (rounded up) for
    /// the process (background tasks, and the services built on it: auth,
    /// settings, the LLM ledger), the rest among the HTTP workers, each
    /// with its own pool of at least one. An API process holds at most
    /// `process + workers × per_worker` connections: `pool_size`, or one
    /// per worker more when there are more workers than half of it.
    pub fn api_pool_shares(&self) -> PoolShares {
        let size = self.database.pool_size.max(1);
        let process = size.div_ceil(2);
        let workers = self.http.worker_count().max(1);
        PoolShares {
            process,
            per_worker: ((size - process) / workers).max(1),
        }
    }
}

/// See [`AppConfig::api_pool_shares`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShares {
    pub process: usize,
    pub per_worker: usize,
}

impl HttpConfig {
    /// How many worker threads serve HTTP: `workers`, or one per core.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/db`; a secret since it may carry a password.
    pub url: SecretString,
    pub pool_size: usize,
    /// How long to wait for a pooled connection (and to open a new one).
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub idle_in_transaction_timeout_ms: u64,
    /// Shown in `pg_stat_activity`; the binaries set their own default.
    pub application_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` takes precedence.
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// HS256 secret for access tokens, at least 32 bytes (`JWT_SECRET`).
    pub jwt_secret: Option<SecretString>,
    pub allow_signup: bool,
    /// 32 bytes, base64, for AES-256-GCM of stored secrets (`PRESSWORK_ENCRYPTION_KEY`).
    pub encryption_key: Option<SecretString>,
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<SecretString>,
    /// GitHub's endpoints; configurable so tests can stand in for GitHub.
    pub github_authorize_url: String,
    pub github_token_url: String,
    pub github_api_url: String,
    /// Where GitHub sends the browser back (our `/api/auth/github/callback`).
    pub github_redirect_uri: Option<String>,
    /// Failed logins before an account locks, and for how long.
    pub lockout_threshold: i32,
    /// The least zxcvbn score (0 to 4) a new password needs.
    pub min_password_score: u8,
    pub lockout_minutes: u64,
    pub refresh_ttl_days: u64,
    /// Login attempts allowed per client IP per window.
    pub login_attempts_per_ip: u32,
    pub login_window_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderConfig {
    /// Off: never used, even when configured.
    pub enabled: bool,
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub default_model: String,
    pub timeout_s: u64,
}

/// Dollars per million tokens for one model.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelPrice {
    pub model: String,
    pub input: f64,
    pub output: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LlmConfig {
    pub ollama: ProviderConfig,
    pub openai: ProviderConfig,
    pub anthropic: ProviderConfig,
    pub gemini: ProviderConfig,
    /// Fallback order, comma-separated; providers not configured are skipped.
    pub chain: String,
    pub max_retries: u32,
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub breaker_threshold: u32,
    pub breaker_cooldown_s: u64,
    /// Stop the chain at an authentication error instead of falling through.
    pub fail_on_auth_error: bool,
    /// How long provider model listings are reused.
    pub models_cache_s: u64,
    /// Per pipeline stage: `provider` or `provider:model`, tried first.
    #[serde(default)]
    pub stages: std::collections::HashMap<String, String>,
    #[serde(default)]
    pub prices: Vec<ModelPrice>,
    /// Tokens of conversation history sent back to the model with a chat
    /// message (estimated at four characters a token).
    pub chat_context_tokens: u32,
    /// LLM-backed API requests (chat, tests, social) one user may have
    /// running at once, per API process.
    pub max_concurrent_per_user: usize,
}

impl LlmConfig {
    /// The chain as names, checked against the known providers.
    pub fn chain(&self) -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::new();
        for name in self
            .chain
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !["ollama", "openai", "anthropic", "gemini"].contains(&name) {
                return Err(ConfigError::new(
                    "llm.chain",
                    format!("unknown provider '{name}' (known: ollama, openai, anthropic, gemini)"),
                ));
            }
            if !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }

    /// This configuration held to one provider, named as `provider` or
    /// `provider:model`: the chain is that provider alone, no stage is
    /// routed elsewhere, and the model named becomes its default.
    pub fn held_to(&self, spec: &str) -> Result<Self, ConfigError> {
        let (name, model) = match spec.split_once(':') {
            Some((n, m)) => (n.trim(), Some(m.trim()).filter(|m| !m.is_empty())),
            None => (spec.trim(), None),
        };
        let mut held = self.clone();
        held.chain = name.to_owned();
        if held.chain()?.len() != 1 {
            return Err(ConfigError::new(
                "provider",
                "name one provider (ollama, openai, anthropic or gemini), optionally with `:model`",
            ));
        }
        held.stages.clear();
        if let Some(model) = model {
            let p = match name {
                "ollama" => &mut held.ollama,
                "openai" => &mut held.openai,
                "anthropic" => &mut held.anthropic,
                _ => &mut held.gemini,
            };
            model.clone_into(&mut p.default_model);
        }
        Ok(held)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IntegrationsConfig {
    pub serper_api_key: Option<SecretString>,
    pub pexels_api_key: Option<SecretString>,
    pub serper_base_url: String,
    pub pexels_base_url: String,
    pub timeout_s: u64,
    /// Research may read pages on private and loopback addresses (off: the
    /// SSRF guard webhooks use).
    pub research_allow_private_pages: bool,
}

/// Defaults of the content pipeline; the settings `pipeline.quality_threshold`
/// and `pipeline.max_refinements` override them at run time.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineConfig {
    /// Overall judge score a draft needs (0–10).
    pub quality_threshold: f64,
    /// Rewrites after a failed critique or grounding.
    pub max_refinements: u32,
    /// The share of a draft's claims their sources must support (0–1); the
    /// setting `pipeline.support_threshold` overrides it.
    pub support_threshold: f64,
    /// Public reads of a post show how it was made (`provenance`); off,
    /// only editors see it.
    pub public_provenance: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerConfig {
    /// Stable id for this worker (default: pid and a random suffix).
    pub id: Option<String>,
    pub concurrency: usize,
    /// Polling interval when no notification arrives (fallback for LISTEN).
    pub poll_interval_ms: u64,
    /// How long a claim lasts without a heartbeat.
    pub lease_s: u64,
    /// How long running tasks get to finish on SIGTERM/SIGINT.
    pub shutdown_grace_s: u64,
    /// Completed and cancelled tasks are deleted after this many days.
    pub retention_days: u64,
    /// Deliver webhooks to private and loopback addresses (off: SSRF guard).
    pub webhooks_allow_private_targets: bool,
    /// Per-kind caps, `kind=n` pairs separated by commas
    /// (`generate_content=1,deliver_webhook=8`); empty for none.
    pub kind_concurrency: String,
    /// Where `GET /metrics` (Prometheus) listens; empty: nowhere.
    pub metrics_address: String,
}

impl WorkerConfig {
    /// Parses `kind_concurrency`; the error names the variable.
    pub fn kind_limits(&self) -> Result<std::collections::HashMap<String, usize>, ConfigError> {
        let mut out = std::collections::HashMap::new();
        for pair in self
            .kind_concurrency
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let parsed = pair.split_once('=').and_then(|(k, n)| {
                Some((
                    k.trim().to_owned(),
                    n.trim().parse::<usize>().ok().filter(|n| *n > 0)?,
                ))
            });
            match parsed {
                Some((k, n)) if !k.is_empty() => {
                    out.insert(k, n);
                }
                _ => {
                    return Err(ConfigError::new(
                        "PRESSWORK__WORKER__KIND_CONCURRENCY",
                        format!("'{pair}' is not kind=positive number"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl AppConfig {
    /// Checks what serde cannot: addresses, URLs, sizes and secret lengths.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.address.parse::<SocketAddr>().map_err(|e| {
            ConfigError::new(
                "PRESSWORK__HTTP__ADDRESS (or PORT)",
                format!("'{}' is not a socket address: {e}", self.http.address),
            )
        })?;
        if self.http.body_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "PRESSWORK__HTTP__BODY_LIMIT_BYTES",
                "must be at least 1024",
            ));
        }
        let url = self.database.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL (or PRESSWORK__DATABASE__URL)",
                "must be a postgres:// URL",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::new(
                "PRESSWORK__DATABASE__POOL_SIZE",
                "must be at least 1",
            ));
        }
        if self.database.acquire_timeout_ms == 0 {
            return Err(ConfigError::new(
                "PRESSWORK__DATABASE__ACQUIRE_TIMEOUT_MS",
                "must be at least 1",
            ));
        }
        self.worker.kind_limits()?;
        crate::grounding::parse_support_threshold(&self.pipeline.support_threshold.into())
            .map_err(|why| ConfigError::new("PRESSWORK__PIPELINE__SUPPORT_THRESHOLD", why))?;
        if self.auth.min_password_score > 4 {
            return Err(ConfigError::new(
                "PRESSWORK__AUTH__MIN_PASSWORD_SCORE",
                "must be 0 to 4 (zxcvbn's scale)",
            ));
        }
        if self.auth.lockout_threshold < 1 {
            return Err(ConfigError::new(
                "PRESSWORK__AUTH__LOCKOUT_THRESHOLD",
                "must be at least 1",
            ));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return Err(ConfigError::new("JWT_SECRET", "must be at least 32 bytes"));
        }
        crate::net::TrustedProxies::parse(&self.http.trusted_proxies)
            .map_err(|e| ConfigError::new("PRESSWORK__HTTP__TRUSTED_PROXIES", e.message))?;
        for name in &self.http.cors_allowed_headers {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::new(
                    "PRESSWORK__HTTP__CORS_ALLOWED_HEADERS",
                    format!("'{name}' is not a header name"),
                ));
            }
        }
        for origin in &self.http.cors_allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return Err(ConfigError::new(
                    "PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS",
                    format!("'{origin}' must be an origin such as https://example.com"),
                ));
            }
        }
        Ok(())
    }
}
