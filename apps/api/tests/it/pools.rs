//! Each HTTP worker reads the database through its own pool, a share of
//! `database.pool_size`, so that a request and its queries stay on one thread.

use diesel_async::RunQueryDsl;
use presswork_api::startup;

use crate::helpers::TestApp;

#[actix_web::test]
async fn each_worker_queries_through_its_own_share_of_the_pool() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The rate limiter's flush writes through the process's pool, every
    // 500 ms: off here, so the reads below are all this test counts.
    let t = TestApp::with_env(&[
        ("PRESSWORK__HTTP__WORKERS", "2"),
        ("PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN", "0"),
        ("PRESSWORK__HTTP__RATE_LIMIT_PRINCIPAL_PER_MIN", "0"),
    ])
    .await;
    let share = t.state.config.api_pool_shares().per_worker;
    let state = t.state.clone();
    let (addr, server_handle) = crate::helpers::serve(state, 2);

    // Enough reads at once that both workers serve some.
    let read = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    };
    let answers = futures_util::future::join_all((0..64).map(|i| {
        read(if i % 2 == 0 {
            "/api/posts?limit=5"
        } else {
            "/api/categories"
        })
    }))
    .await;
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    }

    // The process's pool and each worker's share.
    let (open, _idle, most) = t.state.pool_status();
    assert_eq!(most, t.state.pool.status().max_size + 2 * share);
    // The handlers' connections were opened by the workers' pools, not
    // the process's: its pool is untouched by these reads.
    assert_eq!(t.state.pool.status().size, 0);
    assert!(open >= 1, "64 reads with no connection open");
    assert!(
        open <= 2 * share,
        "a worker opened more than its share: {open}"
    );
    server_handle.stop(false).await;
}

/// Two applications built on one thread (as tests do) each read their own
/// database: a thread's worker pool belongs to the state that built it.
#[actix_web::test]
async fn two_states_on_one_thread_keep_their_own_databases() {
    use actix_web::test;
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let mut conn = a.db.connect().await;
    diesel::sql_query("INSERT INTO categories (name, slug) VALUES ('Only in A', 'only-in-a')")
        .execute(&mut conn)
        .await
        .unwrap();
    let app_a = test::init_service(startup::app(a.state.clone())).await;
    let app_b = test::init_service(startup::app(b.state.clone())).await;
    for _ in 0..2 {
        for (app, expected) in [(&app_a, 200), (&app_b, 404)] {
            let res = test::call_service(
                app,
                test::TestRequest::get()
                    .uri("/api/categories/only-in-a")
                    .to_request(),
            )
            .await;
            assert_eq!(res.status().as_u16(), expected);
        }
    }
}
