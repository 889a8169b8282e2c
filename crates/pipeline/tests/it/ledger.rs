//! The database ledger under the router: rows per call, the monthly budget
//! refusing before any request, price overrides from settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use presswork_db::models::{llm_call, setting};
use presswork_db::testing::TestDatabase;
use presswork_llm::pricing::{Price, PriceTable};
use presswork_llm::router::{Router, RouterConfig};
use presswork_llm::types::{ChatResponse, ModelInfo, Usage};
use presswork_llm::{BoxFuture, ChatRequest, DeltaStream, LlmError, Provider};
use presswork_pipeline::ledger::{BUDGET_KEY, DbLedger, PRICES_KEY};

/// Answers at once with 1M input and 1M output tokens.
#[derive(Default)]
struct Instant(AtomicU32);

impl Provider for Instant {
    fn name(&self) -> &str {
        "fake"
    }
    fn default_model(&self) -> &str {
        "priced-model"
    }
    fn chat<'a>(&'a self, _req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(ChatResponse {
                text: "ok".into(),
                provider: "fake".into(),
                model: "priced-model".into(),
                usage: Usage {
                    input_tokens: 1_000_000,
                    output_tokens: 1_000_000,
                },
                latency: Duration::from_millis(3),
                cost_usd: None,
            })
        })
    }
    fn chat_stream<'a>(
        &'a self,
        _req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async { Err(LlmError::NotConfigured("stream".into())) })
    }
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async { Ok(vec![]) })
    }
}

async fn put(db: &TestDatabase, key: &str, value: &str) {
    let mut conn = db.connect().await;
    setting::upsert(
        &mut conn,
        &setting::SettingWrite {
            key,
            value: Some(value),
            data_type: "json",
            category: "llm",
            is_secret: false,
            encrypted_value: None,
            description: "",
            updated_by: None,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn calls_are_recorded_and_the_budget_refuses_once_spent() {
    let db = TestDatabase::new().await;
    put(&db, BUDGET_KEY, "5").await;
    let provider = Arc::new(Instant::default());
    let ledger = Arc::new(DbLedger::with_ttl(db.pool(), Duration::ZERO));
    let router = Router::new(vec![provider.clone()], RouterConfig::default())
        .with_prices(PriceTable::new([(
            "priced-model".to_owned(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        )]))
        .with_ledger(ledger.clone());
    // $3 per call: the first two calls start under the $5 limit.
    router.chat(&ChatRequest::default(), None).await.unwrap();
    router.chat(&ChatRequest::default(), None).await.unwrap();
    let err = router
        .chat(&ChatRequest::default(), None)
        .await
        .unwrap_err();
    match err {
        LlmError::BudgetExceeded {
            spent_usd,
            limit_usd,
        } => {
            assert!((spent_usd - 6.0).abs() < 1e-9 && (limit_usd - 5.0).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        provider.0.load(Ordering::SeqCst),
        2,
        "the refused call sent nothing"
    );
    let mut conn = db.connect().await;
    let usage = llm_call::usage_since(&mut conn, chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].calls, usage[0].input_tokens, usage[0].failures),
        (2, 2_000_000, 0)
    );
    assert!((usage[0].cost_usd - 6.0).abs() < 1e-9);

    // Raising the budget lets calls through again; overrides change prices.
    put(&db, BUDGET_KEY, "100").await;
    put(
        &db,
        PRICES_KEY,
        r#"{"priced-model": {"input": 0.5, "output": 0.5}}"#,
    )
    .await;
    router.chat(&ChatRequest::default(), None).await.unwrap();
    assert!((ledger.spent_this_month().await.unwrap() - 7.0).abs() < 1e-9);
}

#[tokio::test]
async fn without_a_budget_setting_nothing_is_refused_and_bad_settings_are_ignored() {
    let db = TestDatabase::new().await;
    put(&db, BUDGET_KEY, "\"lots\"").await;
    put(&db, PRICES_KEY, "[1, 2]").await;
    let ledger = Arc::new(DbLedger::with_ttl(db.pool(), Duration::ZERO));
    let router = Router::new(vec![Arc::new(Instant::default())], RouterConfig::default())
        .with_prices(PriceTable::new([(
            "priced-model".to_owned(),
            Price {
                input: 1.0,
                output: 1.0,
            },
        )]))
        .with_ledger(ledger.clone());
    for _ in 0..3 {
        router.chat(&ChatRequest::default(), None).await.unwrap();
    }
    assert!((ledger.spent_this_month().await.unwrap() - 6.0).abs() < 1e-9);
}

#[tokio::test]
async fn between_rereads_this_processs_own_spend_counts() {
    let db = TestDatabase::new().await;
    put(&db, BUDGET_KEY, "5").await;
    let provider = Arc::new(Instant::default());
    // Settings and spend are read once for the whole test.
    let ledger = Arc::new(DbLedger::with_ttl(db.pool(), Duration::from_secs(3600)));
    let router = Router::new(vec![provider.clone()], RouterConfig::default())
        .with_prices(PriceTable::new([(
            "priced-model".to_owned(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        )]))
        .with_ledger(ledger);
    router.chat(&ChatRequest::default(), None).await.unwrap();
    router.chat(&ChatRequest::default(), None).await.unwrap();
    let err = router
        .chat(&ChatRequest::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BudgetExceeded { .. }), "{err:?}");
    assert_eq!(provider.0.load(Ordering::SeqCst), 2);
}

fn estimate(cost: f64) -> presswork_llm::router::CallRecord {
    presswork_llm::router::CallRecord {
        provider: "fake".into(),
        model: "priced-model".into(),
        purpose: None,
        usage: Usage::default(),
        cost_usd: Some(cost),
        latency_ms: 0,
        outcome: presswork_llm::router::IN_FLIGHT,
        streamed: false,
    }
}

/// Many calls reserving at once near the limit: the check and the
/// reservation are one step, so exactly as many as fit are admitted and the
/// rest are refused before any provider is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_never_overshoot_the_budget() {
    use presswork_llm::router::Ledger;
    let db = TestDatabase::new().await;
    put(&db, BUDGET_KEY, "1").await;
    let ledger = Arc::new(DbLedger::with_ttl(db.pool(), Duration::ZERO));
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.reserve(estimate(0.3)).await })
        })
        .collect();
    let mut results = Vec::new();
    for a in attempts {
        results.push(a.await.unwrap());
    }
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(LlmError::BudgetExceeded { .. })))
        .count();
    assert_eq!((admitted, refused), (3, 17));
    // The calls in flight count as spent at their estimate.
    assert!((ledger.spent_this_month().await.unwrap() - 0.9).abs() < 1e-9);
}

/// A call whose worker dies mid-call never settles: its reservation still
/// counts, housekeeping expires it as `unknown` at its estimate, and a late
/// settlement replaces it (the call counts once).
#[tokio::test]
async fn an_unsettled_reservation_counts_and_expires_as_unknown() {
    use presswork_llm::router::Ledger;
    let db = TestDatabase::new().await;
    let ledger = DbLedger::with_ttl(db.pool(), Duration::ZERO);
    let killed = ledger.reserve(estimate(0.25)).await.unwrap();
    let late = ledger.reserve(estimate(0.5)).await.unwrap();
    assert!(killed.0.is_some() && late.0.is_some());
    assert!((ledger.spent_this_month().await.unwrap() - 0.75).abs() < 1e-9);

    let mut conn = db.connect().await;
    // Not yet past the call timeout: nothing expires.
    assert_eq!(
        llm_call::expire_reservations(&mut conn, 3600.0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        llm_call::expire_reservations(&mut conn, 0.0).await.unwrap(),
        2
    );
    let usage = llm_call::usage_since(&mut conn, chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        (usage[0].calls, usage[0].failures),
        (2, 2),
        "unknown outcomes"
    );
    assert!((usage[0].cost_usd - 0.75).abs() < 1e-9);

    // The late one settles after all: its real record, one row.
    let mut real = estimate(0.1);
    real.outcome = "ok";
    ledger.record(real, late).await;
    let usage = llm_call::usage_since(&mut conn, chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((usage[0].calls, usage[0].failures), (2, 1));
    assert!((usage[0].cost_usd - 0.35).abs() < 1e-9);
}

/// With the database unreachable, no call is made: it could not be
/// recorded (before, such calls reached the provider and never the ledger).
#[tokio::test]
async fn no_call_is_made_when_it_cannot_be_recorded() {
    let mut cfg = presswork_domain::config::DatabaseConfig {
        url: secrecy::SecretString::from("postgres://postgres@127.0.0.1:1/nothing"),
        ..TestDatabase::new().await.config()
    };
    cfg.acquire_timeout_ms = 300;
    let pool = presswork_db::build_pool(&cfg).unwrap();
    let provider = Arc::new(Instant::default());
    let router = Router::new(vec![provider.clone()], RouterConfig::default())
        .with_ledger(Arc::new(DbLedger::with_ttl(pool, Duration::ZERO)));
    assert!(router.chat(&ChatRequest::default(), None).await.is_err());
    assert_eq!(provider.0.load(Ordering::SeqCst), 0);
}
