use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use presswork_auth::AuthService;
use presswork_auth::crypto::SecretBox;
use presswork_auth::github::GithubConfig;
use presswork_auth::service::AuthSettings;
use presswork_auth::settings::SettingsStore;
use presswork_auth::tokens::TokenIssuer;
use presswork_db::Pool;
use presswork_domain::config::AppConfig;
use secrecy::{ExposeSecret, SecretString};

thread_local! {
    /// This HTTP worker's own pool, once attached, with the state it
    /// belongs to (`AppState::id`).
    static WORKER_POOL: std::cell::RefCell<Option<(usize, Pool)>> = const { std::cell::RefCell::new(None) };
}

/// Shared by every handler through `web::Data`. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The process's pool: for background tasks and the services built on
    /// it (auth, settings, the LLM ledger). Handlers use [`AppState::conn`].
    pub pool: Pool,
    /// Each HTTP worker's own pool (see [`AppState::attach_worker_pool`]),
    /// kept here for the pool gauges.
    worker_pools: Arc<std::sync::Mutex<Vec<Pool>>>,
    pub config: Arc<AppConfig>,
    pub auth: Arc<AuthService>,
    pub settings: SettingsStore,
    /// Task ids whose status or progress changed (`None`: re-read all).
    pub task_events: tokio::sync::broadcast::Sender<Option<uuid::Uuid>>,
    /// Anonymous CMS reads, for a moment (see `cache`).
    pub public_cache: Arc<crate::cache::PublicCache>,
    /// Request rate limits shared by every API process.
    pub rate_limiter: Arc<crate::ratelimit::SharedLimiter>,
    /// Concurrent LLM-backed requests per user.
    pub llm_slots: Arc<crate::limits::UserSlots>,
    /// This process's Prometheus counters.
    pub prom: Arc<crate::prometheus::Prom>,
    /// The LLM fallback chain, accounting to `llm_calls`.
    pub llm: Arc<presswork_llm::router::Router>,
    /// The configured Ollama host, for the Ollama routes (whether or not it
    /// is in the chain).
    pub ollama: Arc<presswork_llm::ollama::Ollama>,
    /// The editorial console's templates and CSRF key.
    pub console: Arc<crate::console::Console>,
    /// Proxies whose forwarding headers are believed (`http.trusted_proxies`).
    pub trusted_proxies: Arc<presswork_domain::net::TrustedProxies>,
    pub started_at: Instant,
}

impl AppState {
    /// Fails when the JWT secret is missing or the encryption key is malformed.
    pub fn new(pool: Pool, config: AppConfig) -> anyhow::Result<Self> {
        let jwt_secret = config.auth.jwt_secret.clone().context(
            "JWT_SECRET (or PRESSWORK__AUTH__JWT_SECRET) must be set: at least 32 random bytes",
        )?;
        let tokens =
            TokenIssuer::new(&jwt_secret).map_err(|e| anyhow::anyhow!("JWT_SECRET: {e}"))?;
        let cipher = SecretBox::from_config(config.auth.encryption_key.as_ref())
            .map_err(anyhow::Error::msg)?;
        let a = &config.auth;
        let settings = AuthSettings {
            allow_signup: a.allow_signup,
            lockout_threshold: a.lockout_threshold,
            lockout: Duration::from_secs(a.lockout_minutes * 60),
            refresh_ttl: Duration::from_secs(a.refresh_ttl_days * 24 * 3600),
            login_attempts_per_ip: a.login_attempts_per_ip,
            login_window: Duration::from_secs(a.login_window_s),
            min_password_score: a.min_password_score,
        };
        let github = match (&a.github_client_id, &a.github_client_secret) {
            (Some(id), Some(secret)) => Some(GithubConfig {
                client_id: id.clone(),
                client_secret: secret.clone(),
                authorize_url: a.github_authorize_url.clone(),
                token_url: a.github_token_url.clone(),
                api_url: a.github_api_url.clone(),
                redirect_uri: a.github_redirect_uri.clone(),
                state_key: derive_key(&jwt_secret, "github-oauth-state"),
                timeout: Duration::from_secs(10),
            }),
            _ => None,
        };
        let auth = AuthService::new(pool.clone(), tokens, cipher.clone(), settings, github)
            .map_err(|e| anyhow::anyhow!("auth: {e}"))?;
        let (task_events, _) = tokio::sync::broadcast::channel(1024);
        let public_cache = Arc::new(crate::cache::PublicCache::new(
            Duration::from_millis(config.http.public_cache_ttl_ms),
            config.http.public_cache_entries,
            config.http.public_cache_bytes,
        ));
        let prom = Arc::new(crate::prometheus::Prom::default());
        let llm = presswork_pipeline::router(&config.llm, pool.clone(), Some(prom.observer()))
            .map_err(|e| anyhow::anyhow!("llm: {e}"))?;
        let o = &config.llm.ollama;
        let ollama = presswork_llm::ollama::Ollama::new(presswork_llm::types::ClientConfig {
            base_url: o
                .base_url
                .clone()
                .unwrap_or_else(|| "http://localhost:11434".to_owned()),
            api_key: presswork_llm::types::ApiKey::default(),
            default_model: o.default_model.clone(),
            timeout: Duration::from_secs(o.timeout_s.max(1)),
        })
        .map_err(|e| anyhow::anyhow!("ollama: {e}"))?;
        let h = &config.http;
        let rate_limiter = Arc::new(crate::ratelimit::SharedLimiter::new(
            crate::ratelimit::Limits {
                anonymous: h.rate_limit_anonymous_per_min,
                principal: h.rate_limit_principal_per_min,
                global: h.rate_limit_global_per_min,
                flush: Duration::from_millis(h.rate_limit_flush_ms.max(10)),
            },
        ));
        let console = crate::console::Console::new(derive_key(&jwt_secret, "console-csrf"))
            .map_err(|e| anyhow::anyhow!("console templates: {e}"))?;
        let trusted_proxies =
            presswork_domain::net::TrustedProxies::parse(&config.http.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("PRESSWORK__HTTP__TRUSTED_PROXIES: {e}"))?;
        Ok(Self {
            trusted_proxies: Arc::new(trusted_proxies),
            console: Arc::new(console),
            rate_limiter,
            llm_slots: Arc::new(crate::limits::UserSlots::new(
                config.llm.max_concurrent_per_user,
            )),
            prom,
            llm,
            ollama: Arc::new(ollama),
            public_cache,
            task_events,
            settings: SettingsStore::new(pool.clone(), cipher),
            pool,
            worker_pools: Arc::default(),
            config: Arc::new(config),
            auth: Arc::new(auth),
            started_at: Instant::now(),
        })
    }
}

impl AppState {
    /// One pooled connection for a handler's unit of work; an unreachable
    /// database is a 503.
    pub async fn conn(&self) -> Result<presswork_db::PooledConnection, crate::ApiError> {
        let pool = WORKER_POOL
            .with(|p| match &*p.borrow() {
                Some((owner, pool)) if *owner == self.id() => Some(pool.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.pool.clone());
        Ok(pool.get().await.map_err(presswork_db::DbError::from)?)
    }

    /// Gives the calling thread (an HTTP worker: `startup::app` runs on
    /// each) a pool of its own, its share of `database.pool_size`
    /// ([`AppConfig::api_pool_shares`]). A connection's I/O task runs on the thread that opened it;
    /// from one pool shared by every worker, half of the queries crossed
    /// threads twice (a wake-up each way). With the worker's own pool, a
    /// request and its queries stay on one thread: on a cold first page
    /// the API's CPU per request fell from 342 to 224 µs (docs/PERFORMANCE.md).
    /// Idempotent per thread and state; a thread without one (or with
    /// another state's) uses the process's pool.
    pub fn attach_worker_pool(&self) -> Result<(), presswork_db::DbError> {
        let attached = WORKER_POOL.with(|p| {
            p.borrow()
                .as_ref()
                .is_some_and(|(owner, _)| *owner == self.id())
        });
        if attached {
            return Ok(());
        }
        let mut database = self.config.database.clone();
        database.pool_size = self.config.api_pool_shares().per_worker;
        let pool = presswork_db::build_pool(&database)?;
        self.worker_pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pool.clone());
        WORKER_POOL.with(|p| *p.borrow_mut() = Some((self.id(), pool)));
        Ok(())
    }

    /// Which state (and its clones) this is: a thread's worker pool belongs
    /// to one, and another state on the same thread (tests build several)
    /// never queries through it.
    fn id(&self) -> usize {
        Arc::as_ptr(&self.worker_pools) as usize
    }

    /// Connections of every pool of this process: (open, idle, most).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let workers = self.worker_pools.lock().unwrap_or_else(|p| p.into_inner());
        std::iter::once(&self.pool)
            .chain(workers.iter())
            .map(|p| p.status())
            .fold((0, 0, 0), |(size, idle, max), s| {
                (size + s.size, idle + s.available, max + s.max_size)
            })
    }

    /// Starts this process's LISTEN connection for task events (SSE). Call
    /// once per process, inside its runtime.
    pub fn spawn_listeners(&self) {
        let url = self.config.database.url.expose_secret().to_owned();
        tokio::spawn(crate::events::run_listener(
            url.clone(),
            self.task_events.clone(),
        ));
        let cache = self.public_cache.clone();
        tokio::spawn(presswork_db::listen::listen(
            url,
            "presswork_cms",
            Duration::from_secs(5),
            move |event| match event {
                presswork_db::listen::Event::Notified(table) => cache.table_changed(&table),
                // Changes may have been missed while disconnected.
                presswork_db::listen::Event::Connected => cache.invalidate_terms(),
                presswork_db::listen::Event::Disconnected => {}
            },
        ));
    }
}

/// A purpose-specific key from the JWT secret, so one secret never signs two
/// kinds of thing.
fn derive_key(secret: &SecretString, purpose: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(secret.expose_secret().as_bytes());
    h.finalize().to_vec()
}
