//! Rate limits shared by two API processes (two app states, one database).

use actix_web::test;
use presswork_api::{AppState, startup};

use crate::helpers::{TestApp, bearer, config, send};

#[actix_web::test]
async fn limits_hold_across_processes_within_one_flush_of_overshoot() {
    let env = [
        ("PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN", "10"),
        ("PRESSWORK__HTTP__RATE_LIMIT_FLUSH_MS", "10"),
    ];
    let t = TestApp::with_env(&env).await;
    let mut second = config(&env);
    second.database = t.db.config();
    let other = AppState::new(t.db.pool(), second).unwrap();
    let a = test::init_service(startup::app(t.state.clone())).await;
    let b = test::init_service(startup::app(other)).await;
    let get = || test::TestRequest::get().uri("/api/posts");
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(30));
    // Minute windows: do not straddle one.
    let s = chrono::Utc::now().timestamp() % 60;
    if s > 55 {
        tokio::time::sleep(std::time::Duration::from_secs(
            61 - u64::try_from(s).unwrap(),
        ))
        .await;
    }
    for _ in 0..9 {
        assert_eq!(send(&a, get()).await.0, 200);
    }
    pause().await;
    assert_eq!(
        send(&a, get()).await.0,
        200,
        "the 10th, and A shares its count"
    );
    pause().await;
    // B has seen nothing yet: it admits one more, then learns the total.
    assert_eq!(send(&b, get()).await.0, 200);
    let res = test::call_service(&b, get().to_request()).await;
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, body) = send(&a, get()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Health checks and authenticated callers have their own budgets.
    assert_eq!(
        send(&a, test::TestRequest::get().uri("/livez")).await.0,
        200
    );
    let token = t.token_for("viewer").await;
    assert_eq!(send(&a, bearer(get(), &token)).await.0, 200);
}
