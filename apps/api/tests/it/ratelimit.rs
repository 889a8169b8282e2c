//! Rate limits shared by two API processes (two app states, one database).

use actix_web::test;
use presswork_api::{AppState, startup};

use crate::helpers::{TestApp, bearer, config, send};

/// Limits count per minute window: a test must not straddle two.
async fn not_near_a_minute_boundary() {
    let s = chrono::Utc::now().timestamp() % 60;
    if s > 55 {
        let wait = 61 - u64::try_from(s).unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

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
    not_near_a_minute_boundary().await;
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

/// Behind a load balancer every request comes from the proxy's address:
/// with `http.trusted_proxies` each client keeps its own budget, and a
/// forwarding header from anyone else changes nothing.
#[actix_web::test]
async fn clients_behind_trusted_proxies_have_their_own_budgets() {
    use std::net::SocketAddr;
    let t = TestApp::with_env(&[
        ("PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN", "2"),
        ("PRESSWORK__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8"),
    ])
    .await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    not_near_a_minute_boundary().await;
    let from = |peer: &str, xff: Option<&str>| {
        let mut r = test::TestRequest::get()
            .uri("/api/posts")
            .peer_addr(peer.parse::<SocketAddr>().unwrap());
        if let Some(v) = xff {
            r = r.insert_header(("x-forwarded-for", v.to_owned()));
        }
        r
    };
    // Two readers through one balancer (one hop), a third through two.
    for _ in 0..2 {
        assert_eq!(
            send(&app, from("10.0.0.2:4000", Some("198.51.100.1")))
                .await
                .0,
            200
        );
        assert_eq!(
            send(&app, from("10.0.0.2:4000", Some("198.51.100.2")))
                .await
                .0,
            200
        );
        assert_eq!(
            send(&app, from("10.0.0.2:4000", Some("198.51.100.3, 10.0.0.9")))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        send(&app, from("10.0.0.2:4000", Some("198.51.100.1")))
            .await
            .0,
        429
    );
    // A client that prepends an address of its own choosing is still itself.
    assert_eq!(
        send(
            &app,
            from("10.0.0.2:4000", Some("203.0.113.99, 198.51.100.2"))
        )
        .await
        .0,
        429
    );
    // IPv6 clients through an IPv6 proxy, with RFC 7239's header.
    for _ in 0..2 {
        let r = test::TestRequest::get()
            .uri("/api/posts")
            .peer_addr("[fd00::2]:4000".parse::<SocketAddr>().unwrap())
            .insert_header(("forwarded", "for=\"[2001:db8::7]:1234\";proto=https"));
        assert_eq!(send(&app, r).await.0, 200);
    }
    // Untrusted peers: the header is ignored, so spoofing buys nothing.
    for _ in 0..2 {
        assert_eq!(
            send(&app, from("203.0.113.5:1", Some("198.51.100.50")))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        send(&app, from("203.0.113.5:1", Some("198.51.100.51")))
            .await
            .0,
        429
    );
}

/// `X-Forwarded-Proto` makes cookies Secure only when a trusted proxy says it.
#[actix_web::test]
async fn forwarded_proto_is_believed_only_from_trusted_proxies() {
    use std::net::SocketAddr;
    let t = TestApp::with_env(&[("PRESSWORK__HTTP__TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    for (peer, secure) in [("10.0.0.2:1", true), ("203.0.113.5:1", false)] {
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/console/login")
                .peer_addr(peer.parse::<SocketAddr>().unwrap())
                .insert_header(("x-forwarded-proto", "https"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!cookie.is_empty());
        assert_eq!(cookie.contains("Secure"), secure, "{peer}: {cookie}");
    }
}
