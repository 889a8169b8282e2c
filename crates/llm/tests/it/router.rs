use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use presswork_llm::pricing::{Price, PriceTable};
use presswork_llm::router::{
    Admission, CallRecord, CircuitState, Ledger, Route, Router, RouterConfig,
};
use presswork_llm::types::{ChatResponse, Delta, ModelInfo, Usage};
use presswork_llm::{BoxFuture, ChatRequest, DeltaStream, LlmError, Provider};

/// A provider that answers from a script and counts its calls.
struct Scripted {
    name: &'static str,
    script: Mutex<VecDeque<Result<String, LlmError>>>,
    /// What to answer once the script is used up.
    then: Result<String, LlmError>,
    calls: Mutex<u32>,
}

impl Scripted {
    fn new(
        name: &'static str,
        script: Vec<Result<String, LlmError>>,
        then: Result<String, LlmError>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            script: Mutex::new(script.into()),
            then,
            calls: Mutex::new(0),
        })
    }
    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn default_model(&self) -> &str {
        "m"
    }
    fn chat<'a>(&'a self, _req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            *self.calls.lock().unwrap() += 1;
            let next = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| self.then.clone());
            next.map(|text| ChatResponse {
                text,
                provider: self.name.into(),
                model: "m".into(),
                usage: Usage {
                    input_tokens: 1000,
                    output_tokens: 500,
                },
                latency: Duration::ZERO,
                cost_usd: None,
            })
        })
    }
    /// Streams the scripted text word by word; a `|` in it marks where the
    /// stream breaks with a server error.
    fn chat_stream<'a>(
        &'a self,
        _req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async move {
            let text = self.chat(&ChatRequest::default()).await?.text;
            let (good, broken) = match text.split_once('|') {
                Some((g, _)) => (g.to_owned(), true),
                None => (text, false),
            };
            let mut items: Vec<Result<Delta, LlmError>> = good
                .split_inclusive(' ')
                .map(|w| {
                    Ok(Delta {
                        text: w.to_owned(),
                        usage: None,
                        done: false,
                    })
                })
                .collect();
            if broken {
                items.push(Err(server_error(self.name)));
            } else {
                items.push(Ok(Delta {
                    text: String::new(),
                    usage: Some(Usage {
                        input_tokens: 10,
                        output_tokens: 20,
                    }),
                    done: true,
                }));
            }
            Ok(futures_util::stream::iter(items).boxed())
        })
    }
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async { Ok(vec![ModelInfo::named("m")]) })
    }
}

fn server_error(p: &str) -> LlmError {
    LlmError::Server {
        provider: p.into(),
        status: 503,
        message: "overloaded".into(),
    }
}

fn fast() -> RouterConfig {
    RouterConfig {
        max_retries: 2,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(200),
        ..RouterConfig::default()
    }
}

#[tokio::test]
async fn retries_then_falls_through_in_order() {
    let a = Scripted::new("a", vec![], Err(server_error("a")));
    let b = Scripted::new("b", vec![Err(server_error("b"))], Ok("from b".into()));
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    let res = router.chat(&ChatRequest::default(), None).await.unwrap();
    assert_eq!(res.text, "from b");
    assert_eq!(a.calls(), 3, "one attempt and two retries");
    assert_eq!(b.calls(), 2, "one retry, then success");
}

#[tokio::test]
async fn auth_and_invalid_requests_do_not_retry() {
    let a = Scripted::new(
        "a",
        vec![],
        Err(LlmError::Authentication {
            provider: "a".into(),
            message: "bad key".into(),
        }),
    );
    let b = Scripted::new(
        "b",
        vec![],
        Err(LlmError::InvalidRequest {
            provider: "b".into(),
            message: "bad".into(),
        }),
    );
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    let err = router
        .chat(&ChatRequest::default(), None)
        .await
        .unwrap_err();
    assert_eq!((a.calls(), b.calls()), (1, 1));
    match err {
        LlmError::AllFailed(chain) => assert!(
            chain.contains("bad key") && chain.contains("rejected"),
            "{chain}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let a = Scripted::new(
        "a",
        vec![Err(LlmError::RateLimited {
            provider: "a".into(),
            retry_after: Some(Duration::from_millis(15)),
        })],
        Ok("ok".into()),
    );
    let router = Router::new(vec![a.clone()], fast());
    let started = std::time::Instant::now();
    router.chat(&ChatRequest::default(), None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(15));
}

#[tokio::test]
async fn the_breaker_opens_skips_then_probes() {
    let a = Scripted::new(
        "a",
        vec![],
        Err(LlmError::Authentication {
            provider: "a".into(),
            message: "x".into(),
        }),
    );
    let b = Scripted::new("b", vec![], Ok("b".into()));
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    for _ in 0..2 {
        router.chat(&ChatRequest::default(), None).await.unwrap();
    }
    assert_eq!(router.circuit("a"), Some(CircuitState::Open));
    // What a worker publishes with its heartbeat says the same.
    let health = router.health();
    assert_eq!(
        health
            .iter()
            .map(|h| (h.provider.as_str(), h.circuit, h.failures))
            .collect::<Vec<_>>(),
        [("a", CircuitState::Open, 2), ("b", CircuitState::Closed, 0)]
    );
    let json = serde_json::to_value(&health).unwrap();
    let back: Vec<presswork_llm::router::ProviderHealth> = serde_json::from_value(json).unwrap();
    assert_eq!(back, health);
    router.chat(&ChatRequest::default(), None).await.unwrap();
    assert_eq!(a.calls(), 2, "skipped while open");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(router.circuit("a"), Some(CircuitState::HalfOpen));
    router.chat(&ChatRequest::default(), None).await.unwrap();
    assert_eq!(a.calls(), 3, "one probe after the cool-down");
    assert_eq!(
        router.circuit("a"),
        Some(CircuitState::Open),
        "the probe failed: open again"
    );

    let c = Scripted::new(
        "c",
        vec![
            Err(server_error("c")),
            Err(server_error("c")),
            Err(server_error("c")),
        ],
        Ok("c".into()),
    );
    let mut cfg = fast();
    cfg.max_retries = 0;
    let router = Router::new(vec![c.clone()], cfg);
    assert!(router.chat(&ChatRequest::default(), None).await.is_err());
    assert!(router.chat(&ChatRequest::default(), None).await.is_err());
    assert_eq!(router.circuit("c"), Some(CircuitState::Open));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        router.chat(&ChatRequest::default(), None).await.is_err(),
        "probe fails (third scripted error)"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        router
            .chat(&ChatRequest::default(), None)
            .await
            .unwrap()
            .text,
        "c"
    );
    assert_eq!(
        router.circuit("c"),
        Some(CircuitState::Closed),
        "a good probe closes it"
    );
}

#[tokio::test]
async fn per_request_override_and_unknown_provider() {
    let a = Scripted::new("a", vec![], Ok("a".into()));
    let b = Scripted::new("b", vec![], Ok("b".into()));
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    assert_eq!(
        router
            .chat(&ChatRequest::default(), Some("b"))
            .await
            .unwrap()
            .text,
        "b"
    );
    assert_eq!(a.calls(), 0);
    let err = router
        .chat(&ChatRequest::default(), Some("zzz"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::NotConfigured(ref p) if p == "zzz"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not configured"));
}

async fn collect(mut s: DeltaStream) -> (String, Option<LlmError>) {
    let mut text = String::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(d) => text.push_str(&d.text),
            Err(e) => return (text, Some(e)),
        }
    }
    (text, None)
}

#[tokio::test]
async fn a_stream_failing_before_its_first_token_falls_through() {
    let a = Scripted::new("a", vec![], Err(server_error("a")));
    let b = Scripted::new("b", vec![], Ok("hello from b".into()));
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    let routed = router
        .chat_stream(&ChatRequest::default(), &Route::default())
        .await
        .unwrap();
    assert_eq!(routed.provider, "b");
    let (text, err) = collect(routed.stream).await;
    assert_eq!((text.as_str(), err), ("hello from b", None));
    assert_eq!(a.calls(), 3, "retried, then fell through");
}

#[tokio::test]
async fn a_stream_failing_mid_answer_is_an_error_with_the_partial_text() {
    let a = Scripted::new("a", vec![], Ok("half an an|swer".into()));
    let b = Scripted::new("b", vec![], Ok("never used".into()));
    let router = Router::new(vec![a.clone(), b.clone()], fast());
    let routed = router
        .chat_stream(&ChatRequest::default(), &Route::default())
        .await
        .unwrap();
    let (text, err) = collect(routed.stream).await;
    assert_eq!(text, "half an an");
    match err {
        Some(LlmError::Interrupted {
            provider, partial, ..
        }) => {
            assert_eq!((provider.as_str(), partial.as_str()), ("a", "half an an"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.calls(), 0, "no splice of a second model's output");
    assert_eq!(router.stats("a").unwrap().failures, 1);
}

/// Records calls; refuses when `spent >= limit`.
struct TestLedger {
    limit: f64,
    records: Mutex<Vec<CallRecord>>,
    overrides: Option<Arc<PriceTable>>,
}

impl Ledger for TestLedger {
    fn admit(&self) -> BoxFuture<'_, Result<Admission, LlmError>> {
        Box::pin(async move {
            let spent: f64 = self
                .records
                .lock()
                .unwrap()
                .iter()
                .filter_map(|r| r.cost_usd)
                .sum();
            if spent >= self.limit {
                return Err(LlmError::BudgetExceeded {
                    spent_usd: spent,
                    limit_usd: self.limit,
                });
            }
            Ok(Admission {
                price_overrides: self.overrides.clone(),
            })
        })
    }
    fn record(
        &self,
        call: CallRecord,
        _reservation: presswork_llm::router::Reservation,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.records.lock().unwrap().push(call) })
    }
}

#[tokio::test]
async fn the_budget_refuses_before_any_request_and_costs_are_recorded() {
    let a = Scripted::new("a", vec![], Ok("paid".into()));
    let ledger = Arc::new(TestLedger {
        limit: 0.02,
        records: Mutex::default(),
        overrides: None,
    });
    let prices = PriceTable::new([(
        "m".to_owned(),
        Price {
            input: 10.0,
            output: 20.0,
        },
    )]);
    let router = Router::new(vec![a.clone()], fast())
        .with_prices(prices)
        .with_ledger(ledger.clone());
    // 1000 in × $10/M + 500 out × $20/M = $0.02: the first call spends it all.
    router
        .chat_routed(&ChatRequest::default(), &Route::default().purpose("draft"))
        .await
        .unwrap();
    {
        let records = ledger.records.lock().unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(
            (r.provider.as_str(), r.outcome, r.purpose.as_deref()),
            ("a", "ok", Some("draft"))
        );
        assert!((r.cost_usd.unwrap() - 0.02).abs() < 1e-12, "{r:?}");
    }
    let err = router
        .chat(&ChatRequest::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::BudgetExceeded { .. }), "{err:?}");
    let err = router
        .chat_stream(&ChatRequest::default(), &Route::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LlmError::BudgetExceeded { .. }), "{err:?}");
    assert_eq!(a.calls(), 1, "refused calls never reach the provider");
    let stats = router.stats("a").unwrap();
    assert_eq!(
        (stats.requests, stats.input_tokens, stats.output_tokens),
        (1, 1000, 500)
    );
}

#[tokio::test]
async fn price_overrides_from_the_ledger_win() {
    let a = Scripted::new("a", vec![], Ok("x".into()));
    let overrides = Arc::new(PriceTable::new([(
        "m".to_owned(),
        Price {
            input: 1.0,
            output: 0.0,
        },
    )]));
    let ledger = Arc::new(TestLedger {
        limit: 100.0,
        records: Mutex::default(),
        overrides: Some(overrides),
    });
    let router = Router::new(vec![a], fast())
        .with_prices(PriceTable::new([(
            "m".to_owned(),
            Price {
                input: 10.0,
                output: 20.0,
            },
        )]))
        .with_ledger(ledger.clone());
    router.chat(&ChatRequest::default(), None).await.unwrap();
    let cost = ledger.records.lock().unwrap()[0].cost_usd.unwrap();
    assert!((cost - 0.001).abs() < 1e-12, "{cost}");
}

#[tokio::test]
async fn stage_routes_prefer_a_provider_then_fall_back() {
    let a = Scripted::new("a", vec![], Ok("a".into()));
    let b = Scripted::new(
        "b",
        vec![
            Err(server_error("b")),
            Err(server_error("b")),
            Err(server_error("b")),
        ],
        Ok("b".into()),
    );
    let mut cfg = fast();
    cfg.breaker_threshold = 10;
    cfg.stages
        .insert("draft".into(), Route::preferred("b:big-model"));
    cfg.stages.insert("seo".into(), Route::preferred("missing"));
    let router = Router::new(vec![a.clone(), b.clone()], cfg);
    let route = router.route_for_stage("draft");
    assert_eq!(
        (
            route.provider.as_deref(),
            route.model.as_deref(),
            route.purpose.as_deref()
        ),
        (Some("b"), Some("big-model"), Some("draft"))
    );
    // b fails three times (attempt + 2 retries), then a answers.
    assert_eq!(
        router
            .chat_routed(&ChatRequest::default(), &route)
            .await
            .unwrap()
            .text,
        "a"
    );
    assert_eq!(
        router
            .chat_routed(&ChatRequest::default(), &route)
            .await
            .unwrap()
            .text,
        "b"
    );
    // A stage preferring an unconfigured provider uses the chain.
    assert_eq!(
        router
            .chat_routed(&ChatRequest::default(), &router.route_for_stage("seo"))
            .await
            .unwrap()
            .text,
        "a"
    );
    assert_eq!(
        router.route_for_stage("research"),
        Route::default().purpose("research")
    );
}

#[test]
fn model_names_parse_to_routes() {
    let cases = [
        ("ollama", "ollama", None),
        ("openai-gpt-4o", "openai", Some("gpt-4o")),
        (
            "anthropic:claude-sonnet-4-5",
            "anthropic",
            Some("claude-sonnet-4-5"),
        ),
        ("gemini/gemini-2.5-pro", "gemini", Some("gemini-2.5-pro")),
        ("gemini-2.5-flash", "gemini", Some("gemini-2.5-flash")),
        ("gpt-4o-mini", "openai", Some("gpt-4o-mini")),
        ("claude-haiku-4-5", "anthropic", Some("claude-haiku-4-5")),
        ("llama3.2:latest", "ollama", Some("llama3.2:latest")),
        ("ollama-qwen2.5:7b", "ollama", Some("qwen2.5:7b")),
    ];
    for (spec, provider, model) in cases {
        let r = Route::parse(spec);
        assert_eq!(
            (r.provider.as_deref(), r.model.as_deref(), r.strict),
            (Some(provider), model, true),
            "{spec}"
        );
    }
}

/// Hangs for a while, then fails.
struct Slow;

impl Provider for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn default_model(&self) -> &str {
        "s"
    }
    fn chat<'a>(&'a self, _req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Err(LlmError::Timeout {
                provider: "slow".into(),
                seconds: 0,
            })
        })
    }
    fn chat_stream<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async move { Err(self.chat(req).await.unwrap_err()) })
    }
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async {
            Err(LlmError::Unavailable {
                provider: "slow".into(),
                message: "connection refused".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_slow_failing_provider_never_blocks_the_others() {
    let b = Scripted::new("b", vec![], Ok("b".into()));
    let mut cfg = fast();
    cfg.max_retries = 0;
    let router = Arc::new(Router::new(vec![Arc::new(Slow), b.clone()], cfg));
    let chain = tokio::spawn({
        let router = router.clone();
        async move { router.chat(&ChatRequest::default(), None).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    assert_eq!(
        router
            .chat(&ChatRequest::default(), Some("b"))
            .await
            .unwrap()
            .text,
        "b"
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "b answered while slow was hanging"
    );
    assert_eq!(
        chain.await.unwrap().unwrap().text,
        "b",
        "the chain fell through after the timeout"
    );

    // Listing: the failing provider is unavailable, not an error.
    let listed = router.models().await;
    assert_eq!(listed.len(), 2);
    assert!(!listed[0].available && listed[0].error.as_deref().unwrap().contains("refused"));
    assert!(listed[1].available && listed[1].models[0].name == "m");
    let probe = router.stats("slow").unwrap().last_probe.unwrap();
    assert!(!probe.ok);
}
