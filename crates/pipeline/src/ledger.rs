//! The router's ledger over PostgreSQL: every provider attempt becomes an
//! `llm_calls` row, and a call is refused before it starts once this month's
//! spend has reached the `llm.monthly_budget_usd` setting. Price overrides
//! come from the `llm.prices` setting (`{"model": {"input": $, "output": $}}`
//! per million tokens).
//!
//! Every attempt is reserved before it is made: an `llm_calls` row at its
//! estimated cost (outcome `in_flight`), inserted only when the month's
//! spend, calls in flight included, leaves room for it — checked and
//! inserted under one advisory lock, so concurrent calls in every process
//! see each other. The attempt's real record then settles the row. A
//! reservation never settled (its process killed mid-call, or the database
//! unreachable when the call ended) is expired to `unknown` by housekeeping
//! and keeps its estimate. With the database unreachable, no call is made.
//!
//! Price overrides are read at most once per `ttl` (5 s by default).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use presswork_db::Pool;
use presswork_db::models::llm_call::Reserved;
use presswork_db::models::{llm_call, setting};
use presswork_llm::pricing::{Price, PriceTable};
use presswork_llm::router::{Admission, CallRecord, Ledger, Reservation};
use presswork_llm::{BoxFuture, LlmError};

pub const BUDGET_KEY: &str = "llm.monthly_budget_usd";
pub const PRICES_KEY: &str = "llm.prices";

#[derive(Clone, Default)]
struct Policy {
    limit_usd: Option<f64>,
    prices: Option<Arc<PriceTable>>,
    /// This month's spend when read, plus this process's calls since.
    spent_usd: f64,
}

/// Told about every call (metrics).
pub type Observer = Arc<dyn Fn(&CallRecord) + Send + Sync>;

pub struct DbLedger {
    pool: Pool,
    observer: Option<Observer>,
    /// How long settings are reused before being read again.
    ttl: Duration,
    cache: Mutex<Option<(Instant, Policy)>>,
}

fn unavailable(e: impl std::fmt::Display) -> LlmError {
    LlmError::AllFailed(format!("the spend ledger is unreachable: {e}"))
}

/// The budget as a number of dollars; anything else is ignored (and logged).
fn parse_budget(raw: Option<&str>) -> Option<f64> {
    let raw = raw?;
    match serde_json::from_str::<serde_json::Value>(raw)
        .ok()?
        .as_f64()
    {
        Some(v) if v.is_finite() && v >= 0.0 => Some(v),
        _ => {
            tracing::warn!(
                setting = BUDGET_KEY,
                "not a non-negative number: no budget applied"
            );
            None
        }
    }
}

fn parse_prices(raw: Option<&str>) -> Option<Arc<PriceTable>> {
    let raw = raw?;
    match serde_json::from_str::<HashMap<String, Price>>(raw) {
        Ok(map) => Some(Arc::new(PriceTable::new(map))),
        Err(e) => {
            tracing::warn!(setting = PRICES_KEY, error = %e, "unreadable: configured prices apply");
            None
        }
    }
}

impl DbLedger {
    pub fn new(pool: Pool) -> Self {
        Self::with_ttl(pool, Duration::from_secs(5))
    }

    pub fn with_ttl(pool: Pool, ttl: Duration) -> Self {
        Self {
            pool,
            observer: None,
            ttl,
            cache: Mutex::new(None),
        }
    }

    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    async fn policy(&self) -> Result<Policy, LlmError> {
        if let Some((at, p)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(p.clone());
        }
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let (limit_usd, spent_usd) = monthly_budget(&mut conn).await.map_err(unavailable)?;
        let prices = setting::find(&mut conn, PRICES_KEY)
            .await
            .map_err(unavailable)?;
        let policy = Policy {
            limit_usd,
            prices: parse_prices(prices.as_ref().and_then(|s| s.value.as_deref())),
            spent_usd,
        };
        *self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// Dollars spent since the first of this month (UTC), read now.
    pub async fn spent_this_month(&self) -> Result<f64, LlmError> {
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        llm_call::spent_since(&mut conn, month_start())
            .await
            .map_err(unavailable)
    }
}

/// 00:00 UTC on the first of this month: where the budget's month starts.
pub fn month_start() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// 00:00 UTC on the first of next month, when the budget resets.
pub fn next_month_start() -> chrono::DateTime<Utc> {
    let start = month_start();
    start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(start)
}

/// The monthly budget as read now: the limit (if a valid one is set) and
/// this month's spend.
pub async fn monthly_budget(
    conn: &mut presswork_db::AsyncPgConnection,
) -> Result<(Option<f64>, f64), presswork_db::QueryError> {
    let limit = parse_budget(
        setting::find(conn, BUDGET_KEY)
            .await?
            .as_ref()
            .and_then(|s| s.value.as_deref()),
    );
    let spent = llm_call::spent_since(conn, month_start()).await?;
    Ok((limit, spent))
}

fn row_of(call: &CallRecord) -> llm_call::NewLlmCall<'_> {
    llm_call::NewLlmCall {
        provider: &call.provider,
        model: &call.model,
        purpose: call.purpose.as_deref(),
        input_tokens: i64::try_from(call.usage.input_tokens).unwrap_or(i64::MAX),
        output_tokens: i64::try_from(call.usage.output_tokens).unwrap_or(i64::MAX),
        cost_usd: call.cost_usd,
        latency_ms: i32::try_from(call.latency_ms).unwrap_or(i32::MAX),
        outcome: call.outcome,
        streamed: call.streamed,
    }
}

impl Ledger for DbLedger {
    fn admit(&self) -> BoxFuture<'_, Result<Admission, LlmError>> {
        Box::pin(async move {
            let policy = self.policy().await?;
            if let Some(limit) = policy.limit_usd
                && policy.spent_usd >= limit
            {
                return Err(LlmError::BudgetExceeded {
                    spent_usd: policy.spent_usd,
                    limit_usd: limit,
                });
            }
            Ok(Admission {
                price_overrides: policy.prices,
            })
        })
    }

    fn reserve(&self, estimate: CallRecord) -> BoxFuture<'_, Result<Reservation, LlmError>> {
        Box::pin(async move {
            // The limit as `admit` just read it (cached for `ttl`): the
            // spend itself is summed under the lock, not taken from the cache.
            let limit = self.policy().await?.limit_usd;
            let mut conn = self.pool.get().await.map_err(unavailable)?;
            match llm_call::reserve(&mut conn, &row_of(&estimate), month_start(), limit)
                .await
                .map_err(unavailable)?
            {
                Reserved::Admitted(id) => Ok(Reservation(Some(id))),
                Reserved::Refused {
                    spent_usd,
                    limit_usd,
                } => Err(LlmError::BudgetExceeded {
                    spent_usd,
                    limit_usd,
                }),
            }
        })
    }

    fn record(&self, call: CallRecord, reservation: Reservation) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let row = row_of(&call);
            if let Some(observe) = &self.observer {
                observe(&call);
            }
            if let Some(cost) = call.cost_usd
                && let Some((_, p)) = self
                    .cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .as_mut()
            {
                p.spent_usd += cost;
            }
            let result = match self.pool.get().await {
                Ok(mut conn) => match reservation.0 {
                    Some(id) => match llm_call::settle(&mut conn, id, &row).await {
                        Ok(true) => Ok(()),
                        Ok(false) => llm_call::insert(&mut conn, &row).await,
                        Err(e) => Err(e),
                    },
                    None => llm_call::insert(&mut conn, &row).await,
                }
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = result {
                // The call happened; losing its row under-counts the spend,
                // so say so loudly.
                tracing::error!(error = %e, llm.provider = %call.provider, llm.cost_usd = call.cost_usd,
                    "could not record an LLM call in the ledger");
            }
        })
    }
}
