//! The ordered fallback chain: each provider in turn (skipping those whose
//! circuit is open), retrying retryable failures with exponential backoff
//! that honours `Retry-After`, then falling through to the next. A provider
//! whose calls keep failing is skipped for a cool-down, then let through
//! with one probe (half-open).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::types::{ChatRequest, ChatResponse};
use crate::{LlmError, Provider};

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Retries per provider after the first attempt.
    pub max_retries: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures that open a provider's circuit.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

pub struct Router {
    providers: Vec<(Arc<dyn Provider>, Mutex<Breaker>)>,
    cfg: RouterConfig,
}

impl Router {
    pub fn new(providers: Vec<Arc<dyn Provider>>, cfg: RouterConfig) -> Self {
        Self {
            providers: providers
                .into_iter()
                .map(|p| (p, Mutex::new(Breaker::default())))
                .collect(),
            cfg,
        }
    }

    pub fn provider_names(&self) -> Vec<String> {
        self.providers
            .iter()
            .map(|(p, _)| p.name().to_owned())
            .collect()
    }

    pub fn circuit(&self, provider: &str) -> Option<CircuitState> {
        let (_, b) = self.providers.iter().find(|(p, _)| p.name() == provider)?;
        let b = b.lock().unwrap_or_else(|p| p.into_inner());
        Some(match b.open_until {
            None => CircuitState::Closed,
            Some(t) if t > Instant::now() => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        })
    }

    /// Whether a call may go to this provider now (claims the half-open probe).
    fn admit(&self, b: &Mutex<Breaker>) -> bool {
        let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
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

    fn record(&self, b: &Mutex<Breaker>, ok: bool) {
        let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
        b.probing = false;
        if ok {
            *b = Breaker::default();
            return;
        }
        b.consecutive_failures += 1;
        if b.open_until.is_some() || b.consecutive_failures >= self.cfg.breaker_threshold {
            b.open_until = Some(Instant::now() + self.cfg.breaker_cooldown);
        }
    }

    fn backoff(&self, retry: u32, err: &LlmError) -> Duration {
        let exp = self
            .cfg
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry));
        let wait = err.retry_after().map_or(exp, |ra| ra.max(exp));
        wait.min(self.cfg.max_backoff)
    }

    /// Answers from the first provider that can; `only` restricts the chain
    /// to one provider (a per-request override).
    pub async fn chat(
        &self,
        req: &ChatRequest,
        only: Option<&str>,
    ) -> Result<ChatResponse, LlmError> {
        let mut failures = Vec::new();
        for (provider, breaker) in &self.providers {
            if only.is_some_and(|o| o != provider.name()) {
                continue;
            }
            if !self.admit(breaker) {
                failures.push(format!("{}: circuit open", provider.name()));
                continue;
            }
            let mut retry = 0;
            loop {
                match provider.chat(req).await {
                    Ok(res) => {
                        self.record(breaker, true);
                        tracing::info!(llm.provider = provider.name(), llm.model = %res.model, llm.tokens_in = res.usage.input_tokens,
                            llm.tokens_out = res.usage.output_tokens, duration_ms = res.latency.as_millis() as u64, "llm call succeeded");
                        return Ok(res);
                    }
                    Err(e) => {
                        tracing::warn!(llm.provider = provider.name(), error = %e, retry, "llm call failed");
                        if e.is_retryable() && retry < self.cfg.max_retries {
                            tokio::time::sleep(self.backoff(retry, &e)).await;
                            retry += 1;
                            continue;
                        }
                        self.record(breaker, false);
                        failures.push(e.to_string());
                        break;
                    }
                }
            }
        }
        if failures.is_empty() {
            failures.push(match only {
                Some(o) => format!("provider {o} is not configured"),
                None => "no provider is configured".into(),
            });
        }
        Err(LlmError::AllFailed(failures.join("; ")))
    }
}
