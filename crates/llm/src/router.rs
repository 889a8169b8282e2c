//! The ordered fallback chain: each provider in turn (skipping those whose
//! circuit is open), retrying retryable failures with exponential backoff
//! and jitter that honours `Retry-After`, then falling through to the next.
//! A provider whose calls keep failing is skipped for a cool-down, then let
//! through with one probe (half-open).
//!
//! Every attempt is accounted: per-provider counters in memory, and a
//! [`Ledger`] (the database, in the apps) that refuses calls once the monthly
//! budget is spent and records each call's tokens and cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use serde::Serialize;

use crate::pricing::PriceTable;
use crate::types::{ChatRequest, ChatResponse, Delta, ModelInfo, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Retries per provider after the first attempt.
    pub max_retries: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures that open a provider's circuit.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    /// An authentication error stops the chain instead of falling through.
    pub fail_on_auth_error: bool,
    /// How long a provider's model listing is reused.
    pub models_ttl: Duration,
    /// Per pipeline stage: the provider (and model) tried first.
    pub stages: HashMap<String, Route>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            fail_on_auth_error: false,
            models_ttl: Duration::from_secs(60),
            stages: HashMap::new(),
        }
    }
}

/// Where a call should go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Only this provider (`strict`) or this one first.
    pub provider: Option<String>,
    /// The model for `provider`; the others use their defaults.
    pub model: Option<String>,
    /// No fallback beyond `provider`.
    pub strict: bool,
    /// What the call is for (a pipeline stage, `chat`, `test`): recorded.
    pub purpose: Option<String>,
}

impl Route {
    /// Only `provider`, with its default model unless `model` is given.
    pub fn only(provider: impl Into<String>, model: Option<String>) -> Self {
        Self {
            provider: Some(provider.into()),
            model,
            strict: true,
            purpose: None,
        }
    }

    /// Parses the model names callers use: `ollama`, `openai-gpt-4o`,
    /// `anthropic:claude-sonnet-4-5`, `gemini/gemini-2.5-flash`, or a bare
    /// model whose provider is recognisable (`gpt-4o`, `claude-…`,
    /// `gemini-…`); anything else is taken as an Ollama model.
    pub fn parse(spec: &str) -> Self {
        let spec = spec.trim();
        for p in PROVIDERS {
            if spec == p {
                return Self::only(p, None);
            }
            for sep in ['-', ':', '/'] {
                if let Some(model) = spec.strip_prefix(p).and_then(|r| r.strip_prefix(sep))
                    // `gemini-2.5-flash` is a Gemini model, not provider + "2.5-flash".
                    && !(p == "gemini" && sep == '-')
                    && !model.is_empty()
                {
                    return Self::only(p, Some(model.to_owned()));
                }
            }
        }
        let provider = if spec.starts_with("gpt-")
            || spec.starts_with("o1")
            || spec.starts_with("o3")
            || spec.starts_with("o4")
        {
            "openai"
        } else if spec.starts_with("claude") {
            "anthropic"
        } else if spec.starts_with("gemini") {
            "gemini"
        } else {
            "ollama"
        };
        Self::only(provider, Some(spec.to_owned()))
    }

    /// `provider` or `provider:model` (the stage override syntax).
    pub fn preferred(spec: &str) -> Self {
        let (provider, model) = match spec.split_once(':') {
            Some((p, m)) => (p, Some(m.to_owned())),
            None => (spec, None),
        };
        Self {
            provider: Some(provider.trim().to_owned()),
            model: model.filter(|m| !m.is_empty()),
            strict: false,
            purpose: None,
        }
    }

    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }
}

/// Provider names in the default fallback order.
pub const PROVIDERS: [&str; 4] = ["ollama", "anthropic", "openai", "gemini"];

/// One attempt, as the ledger records it.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub provider: String,
    pub model: String,
    pub purpose: Option<String>,
    pub usage: Usage,
    /// Dollars; 0 for local providers, `None` when the model has no price.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    /// `ok` or the error kind.
    pub outcome: &'static str,
    pub streamed: bool,
}

/// Before each routed call: whether it may start, and the price overrides
/// in force. After each attempt: the record.
pub struct Admission {
    pub price_overrides: Option<Arc<PriceTable>>,
}

/// A call recorded before it was made, to be settled with its real record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reservation(pub Option<i64>);

/// The outcome of a reservation's record until the call settles it.
pub const IN_FLIGHT: &str = "in_flight";

pub trait Ledger: Send + Sync {
    /// Refuses with [`LlmError::BudgetExceeded`] once the month's spend has
    /// reached the limit.
    fn admit(&self) -> BoxFuture<'_, Result<Admission, LlmError>>;
    /// Records an attempt before it is made, at its estimated cost (the
    /// prompt's size and `max_tokens`), so a call whose process dies before
    /// it settles still counts, and a budget can count calls in flight.
    /// Refuses with [`LlmError::BudgetExceeded`] when it would not fit; with
    /// the ledger unreachable, the call is not made.
    fn reserve(&self, estimate: CallRecord) -> BoxFuture<'_, Result<Reservation, LlmError>> {
        let _ = estimate;
        Box::pin(async { Ok(Reservation::default()) })
    }
    /// The attempt's real record, replacing its reservation.
    fn record(&self, call: CallRecord, reservation: Reservation) -> BoxFuture<'_, ()>;
}

/// What a call is expected to cost before it is made: the prompt at about
/// four characters a token, and the answer at its `max_tokens` (or this).
pub const DEFAULT_OUTPUT_ESTIMATE: u64 = 1024;

fn estimated_usage(req: &ChatRequest) -> Usage {
    let chars: usize = req.messages.iter().map(|m| m.content.chars().count()).sum();
    Usage {
        input_tokens: u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX),
        output_tokens: req.max_tokens.map_or(DEFAULT_OUTPUT_ESTIMATE, u64::from),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// One provider as one process sees it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProviderHealth {
    pub provider: String,
    pub circuit: CircuitState,
    pub consecutive_failures: u32,
    /// Since the process started.
    pub requests: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// Counters since the process started, and the last probe.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderStats {
    pub requests: u64,
    pub failures: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<u64>,
    pub last_probe: Option<Probe>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Seconds since the Unix epoch.
    pub at_unix_s: u64,
    pub ok: bool,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// What a provider lists, or why it could not.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderModels {
    pub provider: String,
    pub is_local: bool,
    pub default_model: String,
    pub available: bool,
    pub models: Vec<ModelInfo>,
    pub error: Option<String>,
}

enum Next {
    Retry,
    Fail(LlmError),
    FallThrough(String),
}

/// One provider of a plan, with the model to ask it for.
type Step = (Arc<Slot>, Option<String>);

struct Slot {
    provider: Arc<dyn Provider>,
    breaker: Mutex<Breaker>,
    stats: Mutex<ProviderStats>,
    models: Mutex<Option<(Instant, ProviderModels)>>,
    /// The provider answered a schema with a 400 naming its structured
    /// output field: it gets prompt-only JSON for the process's life.
    structured_refused: std::sync::atomic::AtomicBool,
}

impl Slot {
    fn structured_refused(&self) -> bool {
        self.structured_refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether `e` is this provider refusing the structured output `req`
    /// asked for; if so, it is remembered.
    fn refuses_structured(&self, req: &ChatRequest, e: &LlmError) -> bool {
        let LlmError::InvalidRequest { message, .. } = e else {
            return false;
        };
        if req.schema.is_none() {
            return false;
        }
        let message = message.to_lowercase();
        let refused = self
            .provider
            .structured_fields()
            .iter()
            .any(|f| message.contains(&f.to_lowercase()));
        if refused {
            self.structured_refused
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(
                llm.provider = %self.provider.name(), error = %e,
                "the provider refuses structured output: prompt-only JSON from now on"
            );
        }
        refused
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Accounts one finished attempt: counters, log line, ledger.
#[derive(Clone)]
struct Accountant {
    /// This attempt's reservation in the ledger.
    reservation: Reservation,
    slot: Arc<Slot>,
    ledger: Option<Arc<dyn Ledger>>,
    prices: Arc<PriceTable>,
    purpose: Option<String>,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
}

impl Accountant {
    fn cost(&self, model: &str, usage: Usage) -> Option<f64> {
        if self.slot.provider.is_local() {
            Some(0.0)
        } else {
            self.prices.cost(model, usage)
        }
    }

    /// Reserves this attempt in the ledger; the accountant to settle it with.
    async fn reserve(
        &self,
        model: &str,
        req: &ChatRequest,
        streamed: bool,
    ) -> Result<Accountant, LlmError> {
        let Some(ledger) = &self.ledger else {
            return Ok(self.clone());
        };
        let usage = estimated_usage(req);
        let reservation = ledger
            .reserve(CallRecord {
                provider: self.slot.provider.name().to_owned(),
                model: model.to_owned(),
                purpose: self.purpose.clone(),
                usage,
                cost_usd: self.cost(model, usage),
                latency_ms: 0,
                outcome: IN_FLIGHT,
                streamed,
            })
            .await?;
        Ok(Accountant {
            reservation,
            ..self.clone()
        })
    }

    async fn settle(
        &self,
        model: &str,
        usage: Usage,
        latency: Duration,
        error: Option<&LlmError>,
        streamed: bool,
    ) -> CallRecord {
        let provider = self.slot.provider.name().to_owned();
        let cost_usd = self.cost(model, usage);
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        {
            let mut s = lock(&self.slot.stats);
            s.requests += 1;
            s.input_tokens += usage.input_tokens;
            s.output_tokens += usage.output_tokens;
            s.cost_usd += cost_usd.unwrap_or(0.0);
            s.last_latency_ms = Some(latency_ms);
            if let Some(e) = error {
                s.failures += 1;
                s.last_error = Some(e.to_string());
            }
        }
        self.breaker(error.is_none());
        let outcome = error.map_or("ok", LlmError::kind);
        match error {
            None => tracing::info!(
                llm.provider = %provider, llm.model = model, llm.purpose = self.purpose.as_deref(),
                llm.tokens_in = usage.input_tokens, llm.tokens_out = usage.output_tokens,
                llm.cost_usd = cost_usd, duration_ms = latency_ms, streamed, outcome, "llm call"
            ),
            Some(e) => tracing::warn!(
                llm.provider = %provider, llm.model = model, llm.purpose = self.purpose.as_deref(),
                duration_ms = latency_ms, streamed, outcome, error = %e, "llm call failed"
            ),
        }
        if cost_usd.is_none() && error.is_none() {
            tracing::warn!(llm.provider = %provider, llm.model = model, "no price for this model: cost not counted");
        }
        let record = CallRecord {
            provider,
            model: model.to_owned(),
            purpose: self.purpose.clone(),
            usage,
            cost_usd,
            latency_ms,
            outcome,
            streamed,
        };
        if let Some(ledger) = &self.ledger {
            ledger.record(record.clone(), self.reservation).await;
        }
        record
    }

    fn breaker(&self, ok: bool) {
        let mut b = lock(&self.slot.breaker);
        b.probing = false;
        if ok {
            *b = Breaker::default();
            return;
        }
        b.consecutive_failures += 1;
        if b.open_until.is_some() || b.consecutive_failures >= self.breaker_threshold {
            b.open_until = Some(Instant::now() + self.breaker_cooldown);
        }
    }
}

/// A streamed answer and who is giving it.
pub struct RoutedStream {
    pub provider: String,
    pub model: String,
    pub stream: DeltaStream,
}

pub struct Router {
    slots: Vec<Arc<Slot>>,
    cfg: RouterConfig,
    prices: Arc<PriceTable>,
    ledger: Option<Arc<dyn Ledger>>,
}

impl Router {
    pub fn new(providers: Vec<Arc<dyn Provider>>, cfg: RouterConfig) -> Self {
        Self {
            slots: providers
                .into_iter()
                .map(|provider| {
                    Arc::new(Slot {
                        provider,
                        breaker: Mutex::default(),
                        stats: Mutex::default(),
                        models: Mutex::default(),
                        structured_refused: Default::default(),
                    })
                })
                .collect(),
            cfg,
            prices: Arc::new(PriceTable::default()),
            ledger: None,
        }
    }

    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = Arc::new(prices);
        self
    }

    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    pub fn provider_names(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| s.provider.name().to_owned())
            .collect()
    }

    pub fn provider(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.slot(name).map(|s| s.provider.clone())
    }

    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.slots.iter().find(|s| s.provider.name() == name)
    }

    /// The route configured for a pipeline stage, else the plain chain.
    pub fn route_for_stage(&self, stage: &str) -> Route {
        self.cfg
            .stages
            .get(stage)
            .cloned()
            .unwrap_or_default()
            .purpose(stage)
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    pub fn circuit(&self, provider: &str) -> Option<CircuitState> {
        let b = lock(&self.slot(provider)?.breaker);
        Some(match b.open_until {
            None => CircuitState::Closed,
            Some(t) if t > Instant::now() => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        })
    }

    /// Every configured provider's breaker and counters, as this process
    /// sees them (workers publish it with their heartbeat).
    pub fn health(&self) -> Vec<ProviderHealth> {
        self.slots
            .iter()
            .map(|slot| {
                let name = slot.provider.name();
                let stats = self.stats(name).unwrap_or_default();
                ProviderHealth {
                    provider: name.to_owned(),
                    circuit: self.circuit(name).unwrap_or(CircuitState::Closed),
                    consecutive_failures: lock(&slot.breaker).consecutive_failures,
                    requests: stats.requests,
                    failures: stats.failures,
                    last_error: stats.last_error,
                }
            })
            .collect()
    }

    /// Whether this provider refused structured output: it is asked for
    /// prompt-only JSON instead.
    pub fn structured_refused(&self, provider: &str) -> Option<bool> {
        self.slot(provider).map(|s| s.structured_refused())
    }

    pub fn stats(&self, provider: &str) -> Option<ProviderStats> {
        Some(lock(&self.slot(provider)?.stats).clone())
    }

    /// Whether a call may go to this provider now (claims the half-open probe).
    fn admit(slot: &Slot) -> bool {
        let mut b = lock(&slot.breaker);
        match b.open_until {
            None => true,
            Some(t) if t > Instant::now() => false,
            Some(_) if b.probing => false,
            Some(_) => {
                b.probing = true;
                true
            }
        }
    }

    fn backoff(&self, retry: u32, err: &LlmError) -> Duration {
        let exp = self
            .cfg
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry));
        // Full jitter over the upper half: spreads retries of many callers.
        let jittered = exp.mul_f64(0.5 + fastrand::f64() * 0.5);
        let wait = err.retry_after().map_or(jittered, |ra| ra.max(jittered));
        wait.min(
            self.cfg
                .max_backoff
                .max(err.retry_after().unwrap_or_default()),
        )
    }

    /// The slots a route tries, in order, each with the model to ask for.
    fn plan(&self, route: &Route) -> Result<Vec<Step>, LlmError> {
        let mut plan = Vec::new();
        if let Some(name) = &route.provider {
            match self.slot(name) {
                Some(slot) => plan.push((slot.clone(), route.model.clone())),
                // A preferred provider that is not configured is skipped.
                None if !route.strict => {}
                None => return Err(LlmError::NotConfigured(name.clone())),
            }
            if route.strict {
                return Ok(plan);
            }
        }
        for slot in &self.slots {
            if route.provider.as_deref() != Some(slot.provider.name()) {
                plan.push((slot.clone(), None));
            }
        }
        if plan.is_empty() {
            return Err(LlmError::AllFailed("no provider is configured".into()));
        }
        Ok(plan)
    }

    async fn admission(&self) -> Result<Arc<PriceTable>, LlmError> {
        let Some(ledger) = &self.ledger else {
            return Ok(self.prices.clone());
        };
        let admission = ledger.admit().await?;
        Ok(match admission.price_overrides {
            Some(o) if !o.is_empty() => Arc::new(self.prices.merged(&o)),
            _ => self.prices.clone(),
        })
    }

    fn accountant(&self, slot: &Arc<Slot>, prices: &Arc<PriceTable>, route: &Route) -> Accountant {
        Accountant {
            reservation: Reservation::default(),
            slot: slot.clone(),
            ledger: self.ledger.clone(),
            prices: prices.clone(),
            purpose: route.purpose.clone(),
            breaker_threshold: self.cfg.breaker_threshold,
            breaker_cooldown: self.cfg.breaker_cooldown,
        }
    }

    /// What a failed attempt leads to: the same provider again (after the
    /// backoff, which this waits), the end of the call, or the next provider.
    async fn after_failure(&self, retry: &mut u32, e: LlmError, single: bool) -> Next {
        if e.is_retryable() && *retry < self.cfg.max_retries {
            tokio::time::sleep(self.backoff(*retry, &e)).await;
            *retry += 1;
            return Next::Retry;
        }
        let stop = self.cfg.fail_on_auth_error && matches!(e, LlmError::Authentication { .. });
        // With one provider to try, its own typed error is the most useful
        // answer.
        if stop || single {
            Next::Fail(e)
        } else {
            Next::FallThrough(e.to_string())
        }
    }

    /// Answers from the first provider that can. `only` restricts the chain
    /// to one provider with its default model.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        only: Option<&str>,
    ) -> Result<ChatResponse, LlmError> {
        let route = only.map_or_else(Route::default, |p| Route::only(p, None));
        self.chat_routed(req, &route).await
    }

    pub async fn chat_routed(
        &self,
        req: &ChatRequest,
        route: &Route,
    ) -> Result<ChatResponse, LlmError> {
        self.with_fallback(
            req,
            route,
            false,
            |slot, req, _model, accountant, _started| async move {
                let mut res = slot.provider.chat(&req).await?;
                let record = accountant
                    .settle(&res.model, res.usage, res.latency, None, false)
                    .await;
                res.cost_usd = record.cost_usd;
                Ok(res)
            },
        )
        .await
    }

    /// Streams from the first provider that produces a first token. A
    /// provider that fails before it falls through; one that fails after it
    /// ends the stream with [`LlmError::Interrupted`] carrying the partial
    /// text. Two models' outputs are never spliced.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        route: &Route,
    ) -> Result<RoutedStream, LlmError> {
        self.with_fallback(
            req,
            route,
            true,
            |slot, req, model, accountant, started| async move {
                let name = slot.provider.name().to_owned();
                let mut rest = slot.provider.chat_stream(&req).await?;
                let first = match rest.next().await {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(LlmError::Malformed {
                            provider: name,
                            message: "the stream ended before any answer".into(),
                        });
                    }
                };
                let stream = guarded(first, rest, accountant, model.clone(), started);
                Ok(RoutedStream {
                    provider: name,
                    model,
                    stream,
                })
            },
        )
        .await
    }

    /// The one fallback loop: each provider of the route's plan in turn
    /// (skipping open circuits), retrying retryable errors with backoff,
    /// until `attempt` succeeds. `attempt` gets the request with this
    /// provider's model, the model's name, the accountant and the start time,
    /// and settles its success itself (a stream settles when it ends); every
    /// failure is settled here.
    async fn with_fallback<T, F, Fut>(
        &self,
        req: &ChatRequest,
        route: &Route,
        streamed: bool,
        mut attempt: F,
    ) -> Result<T, LlmError>
    where
        F: FnMut(Arc<Slot>, ChatRequest, String, Accountant, Instant) -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let plan = self.plan(route)?;
        let single = plan.len() == 1;
        let prices = self.admission().await?;
        let mut failures = Vec::new();
        for (slot, model) in plan {
            if !Self::admit(&slot) {
                failures.push(format!("{}: circuit open", slot.provider.name()));
                continue;
            }
            let mut req = req.clone();
            req.model = model;
            if req.schema.is_some() && slot.structured_refused() {
                req.schema = None;
                req.json_mode = true;
            }
            let model_name = req
                .model
                .clone()
                .unwrap_or_else(|| slot.provider.default_model().to_owned());
            let base = self.accountant(&slot, &prices, route);
            let mut retry = 0;
            loop {
                // Recorded before it is made; a refusal (budget, ledger
                // unreachable) ends the whole call: no provider is asked.
                let accountant = base.reserve(&model_name, &req, streamed).await?;
                let started = Instant::now();
                let outcome = attempt(
                    slot.clone(),
                    req.clone(),
                    model_name.clone(),
                    accountant.clone(),
                    started,
                )
                .await;
                let e = match outcome {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                accountant
                    .settle(
                        &model_name,
                        Usage::default(),
                        started.elapsed(),
                        Some(&e),
                        streamed,
                    )
                    .await;
                // Asked again at once without the schema: not a retry.
                if slot.refuses_structured(&req, &e) {
                    req.schema = None;
                    req.json_mode = true;
                    continue;
                }
                match self.after_failure(&mut retry, e, single).await {
                    Next::Retry => continue,
                    Next::Fail(e) => return Err(e),
                    Next::FallThrough(why) => {
                        failures.push(why);
                        break;
                    }
                }
            }
        }
        Err(LlmError::AllFailed(failures.join("; ")))
    }

    /// Every provider's models, fetched concurrently and reused for the
    /// configured time. A provider that cannot list is `available: false`.
    /// Each fetch is also the provider's probe.
    pub async fn models(&self) -> Vec<ProviderModels> {
        let fetches = self.slots.iter().map(|slot| async move {
            if let Some((at, cached)) = lock(&slot.models).as_ref()
                && at.elapsed() < self.cfg.models_ttl
            {
                return cached.clone();
            }
            let fresh = probe(slot).await;
            *lock(&slot.models) = Some((Instant::now(), fresh.clone()));
            fresh
        });
        futures_util::future::join_all(fetches).await
    }

    /// Lists models afresh (ignoring the cache).
    pub async fn refresh(&self, provider: &str) -> Option<ProviderModels> {
        let slot = self.slot(provider)?;
        let fresh = probe(slot).await;
        *lock(&slot.models) = Some((Instant::now(), fresh.clone()));
        Some(fresh)
    }
}

async fn probe(slot: &Slot) -> ProviderModels {
    let started = Instant::now();
    let listed = slot.provider.list_models().await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error = listed.as_ref().err().map(ToString::to_string);
    lock(&slot.stats).last_probe = Some(Probe {
        at_unix_s: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ok: error.is_none(),
        latency_ms,
        error: error.clone(),
    });
    ProviderModels {
        provider: slot.provider.name().to_owned(),
        is_local: slot.provider.is_local(),
        default_model: slot.provider.default_model().to_owned(),
        available: error.is_none(),
        models: listed.unwrap_or_default(),
        error,
    }
}

/// Passes deltas through, keeping the text so far; accounts the call when the
/// stream ends, and turns a mid-stream failure into `Interrupted`.
fn guarded(
    first: Delta,
    rest: DeltaStream,
    accountant: Accountant,
    model: String,
    started: Instant,
) -> DeltaStream {
    struct State {
        pending: Option<Delta>,
        rest: DeltaStream,
        accountant: Accountant,
        model: String,
        started: Instant,
        partial: String,
        over: bool,
    }
    let state = State {
        pending: Some(first),
        rest,
        accountant,
        model,
        started,
        partial: String::new(),
        over: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.over {
            return None;
        }
        let next = match st.pending.take() {
            Some(d) => Some(Ok(d)),
            None => st.rest.next().await,
        };
        match next {
            Some(Ok(d)) => {
                st.partial.push_str(&d.text);
                if d.done {
                    st.over = true;
                    let usage = d.usage.unwrap_or_default();
                    st.accountant
                        .settle(&st.model, usage, st.started.elapsed(), None, true)
                        .await;
                }
                Some((Ok(d), st))
            }
            Some(Err(e)) => {
                st.over = true;
                st.accountant
                    .settle(
                        &st.model,
                        Usage::default(),
                        st.started.elapsed(),
                        Some(&e),
                        true,
                    )
                    .await;
                let err = LlmError::Interrupted {
                    provider: st.accountant.slot.provider.name().to_owned(),
                    partial: std::mem::take(&mut st.partial),
                    message: e.to_string(),
                };
                Some((Err(err), st))
            }
            None => {
                st.over = true;
                let e = LlmError::Malformed {
                    provider: st.accountant.slot.provider.name().to_owned(),
                    message: "the stream ended without its final piece".into(),
                };
                st.accountant
                    .settle(
                        &st.model,
                        Usage::default(),
                        st.started.elapsed(),
                        Some(&e),
                        true,
                    )
                    .await;
                let err = LlmError::Interrupted {
                    provider: st.accountant.slot.provider.name().to_owned(),
                    partial: std::mem::take(&mut st.partial),
                    message: e.to_string(),
                };
                Some((Err(err), st))
            }
        }
    })
    .boxed()
}
