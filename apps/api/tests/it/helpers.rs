use std::collections::HashMap;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use presswork_api::AppState;
use presswork_db::testing::TestDatabase;
use presswork_domain::config::AppConfig;

/// Test configuration: defaults plus the given environment overrides.
pub fn config(env: &[(&str, &str)]) -> AppConfig {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    presswork_domain::runtime::load_from(&env, "presswork-api-test").unwrap()
}

pub struct TestApp {
    pub db: TestDatabase,
    pub state: AppState,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    pub async fn with_env(env: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let mut config = config(env);
        config.database = db.config();
        let state = AppState::new(db.pool(), config);
        Self { db, state }
    }
}

/// An app whose database cannot be reached (nothing listens on port 1).
pub fn unreachable_state() -> AppState {
    let mut config = config(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")]);
    config.database.acquire_timeout_ms = 500;
    let pool = presswork_db::build_pool(&config.database).unwrap();
    AppState::new(pool, config)
}

pub async fn json_of<B: MessageBody>(res: ServiceResponse<B>) -> serde_json::Value {
    let body = test::read_body(res).await;
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

pub async fn call<S, B>(app: &S, req: actix_http::Request) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    test::call_service(app, req).await
}

/// Asserts the error envelope and returns its `code`.
pub fn envelope_code(body: &serde_json::Value) -> String {
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("no error envelope in {body}"));
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_owned()
}
