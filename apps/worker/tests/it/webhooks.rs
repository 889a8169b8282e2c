use presswork_domain::status::TaskStatus;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use presswork_auth::crypto::SecretBox;
use presswork_db::testing::TestDatabase;
use presswork_worker::handlers;
use presswork_worker::webhooks::Deliverer;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{eventually, fast_config, start, task};

const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
const SECRET: &str = "whsec-test-signing-secret";

async fn subscribe(db: &TestDatabase, url: &str) {
    let cipher = SecretBox::from_base64_key(KEY).unwrap();
    let mut conn = db.connect().await;
    presswork_db::webhooks::create(
        &mut conn,
        url,
        &["post.published".to_owned()],
        &cipher.seal(SECRET.as_bytes()).unwrap(),
        "",
        None,
    )
    .await
    .unwrap();
}

async fn deliveries(db: &TestDatabase) -> Vec<presswork_db::queue::Task> {
    let mut conn = db.connect().await;
    let f = presswork_db::queue::TaskListFilter {
        task_type: Some("deliver_webhook".into()),
        ..Default::default()
    };
    presswork_db::queue::list(&mut conn, &f, 10, 0)
        .await
        .unwrap()
        .0
}

fn deliverer(allow_private: bool) -> Deliverer {
    Deliverer {
        cipher: Some(SecretBox::from_base64_key(KEY).unwrap()),
        allow_private_targets: allow_private,
        timeout: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_delivery_retried_after_a_500() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let db = TestDatabase::new().await;
    subscribe(&db, &format!("{}/hook", server.uri())).await;
    let mut conn = db.connect().await;
    let n = presswork_db::webhooks::emit(
        &mut conn,
        "post.published",
        json!({"post_id": "p1", "slug": "hello"}),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        presswork_db::webhooks::emit(&mut conn, "post.deleted", json!({}))
            .await
            .unwrap(),
        0,
        "not subscribed"
    );

    let (stop, h) = start(
        &db,
        handlers::registry(
            deliverer(true),
            handlers::Keeping {
                retention: Duration::from_secs(3600),
                llm_reservations: Duration::from_secs(600),
            },
            crate::no_pipeline(db.pool()),
        ),
        fast_config("w", &db, true),
    );
    let id = deliveries(&db).await[0].id;
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, id).await.attempts == 1 && task(&db, id).await.status == TaskStatus::Pending
        })
        .await
    );
    diesel::sql_query(format!("UPDATE tasks SET run_at = now() WHERE id = '{id}'"))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, id).await.status == TaskStatus::Completed
        })
        .await,
        "{:?}",
        task(&db, id).await
    );
    let _ = stop.send(());
    h.await.unwrap().unwrap();

    let t = task(&db, id).await;
    let attempts: Vec<Value> = t.progress["deliveries"].as_array().unwrap().clone();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status"].clone())
            .collect::<Vec<_>>(),
        vec![json!(500), json!(204)]
    );

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let last = received.last().unwrap();
    let header = last
        .headers
        .get("presswork-signature")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (t_part, v1_part) = header.split_once(',').unwrap();
    let ts = t_part.strip_prefix("t=").unwrap();
    let v1 = v1_part.strip_prefix("v1=").unwrap();
    // Computed here, independently of the worker's code.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&last.body);
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);
    assert!((chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 60);
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["type"], "post.published");
    assert_eq!(body["data"]["slug"], "hello");
    assert!(body["id"].as_str().is_some() && body["created_at"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_by_default() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let db = TestDatabase::new().await;
    subscribe(&db, &format!("{}/hook", server.uri())).await;
    let mut conn = db.connect().await;
    presswork_db::webhooks::emit(&mut conn, "post.published", json!({}))
        .await
        .unwrap();
    let (stop, h) = start(
        &db,
        handlers::registry(
            deliverer(false),
            handlers::Keeping {
                retention: Duration::from_secs(3600),
                llm_reservations: Duration::from_secs(600),
            },
            crate::no_pipeline(db.pool()),
        ),
        fast_config("w", &db, true),
    );
    let id = deliveries(&db).await[0].id;
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, id).await.status == TaskStatus::Failed
        })
        .await
    );
    let _ = stop.send(());
    h.await.unwrap().unwrap();
    assert!(task(&db, id).await.error.unwrap().contains("refused"));
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing may reach a refused address"
    );
}
