use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use presswork_llm::router::{CircuitState, Router, RouterConfig};
use presswork_llm::types::{ChatResponse, Usage};
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
                usage: Usage::default(),
                latency: Duration::ZERO,
            })
        })
    }
    fn chat_stream<'a>(
        &'a self,
        _req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async {
            Err(LlmError::InvalidRequest {
                provider: "scripted".into(),
                message: "no streaming".into(),
            })
        })
    }
    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, LlmError>> {
        Box::pin(async { Ok(vec!["m".into()]) })
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
    assert!(matches!(err, LlmError::AllFailed(m) if m.contains("not configured")));
}
