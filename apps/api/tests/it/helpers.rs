use std::collections::HashMap;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use presswork_api::AppState;
use presswork_db::testing::TestDatabase;
use presswork_domain::config::AppConfig;
use secrecy::SecretString;
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";
/// base64 of 32 bytes of 0x2a.
pub const ENCRYPTION_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
pub const PASSWORD: &str = "a sound passphrase 42";

/// Test configuration: defaults, test secrets, plus the given overrides.
pub fn config(env: &[(&str, &str)]) -> AppConfig {
    let mut map: HashMap<String, String> = HashMap::from([
        ("JWT_SECRET".to_owned(), JWT_SECRET.to_owned()),
        (
            "PRESSWORK_ENCRYPTION_KEY".to_owned(),
            ENCRYPTION_KEY.to_owned(),
        ),
    ]);
    for (k, v) in env {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    presswork_domain::runtime::load_from(&map, "presswork-api-test").unwrap()
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
        let state = AppState::new(db.pool(), config).unwrap();
        Self { db, state }
    }

    /// A user holding one role; returns (id, username).
    pub async fn user_with_role(&self, role: &str) -> (uuid::Uuid, String) {
        let username = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let u = self
            .state
            .auth
            .create_user(
                &format!("{username}@example.com"),
                &username,
                SecretString::from(PASSWORD),
                &[role.to_owned()],
            )
            .await
            .unwrap();
        (u.id, username)
    }

    /// Logs a new user of `role` in through the service; returns its access token.
    pub async fn token_for(&self, role: &str) -> String {
        let (_, username) = self.user_with_role(role).await;
        self.login_as(&username).await
    }

    /// An access token of an existing user (made with [`Self::user_with_role`]).
    pub async fn login_as(&self, username: &str) -> String {
        self.state
            .auth
            .login(
                username,
                SecretString::from(PASSWORD),
                None,
                &Default::default(),
            )
            .await
            .unwrap()
            .access_token
    }
}

/// An app whose database cannot be reached (nothing listens on port 1).
pub fn unreachable_state() -> AppState {
    let mut config = config(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")]);
    config.database.acquire_timeout_ms = 500;
    let pool = presswork_db::build_pool(&config.database).unwrap();
    AppState::new(pool, config).unwrap()
}

pub async fn json_of<B: MessageBody>(res: ServiceResponse<B>) -> Value {
    let body = test::read_body(res).await;
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

pub async fn call<S, B>(app: &S, req: actix_http::Request) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    test::call_service(app, req).await
}

/// Sends a request and returns (status, JSON body).
/// The app under test, as actix's test functions take it.
pub trait App<B>:
    Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B> App<B> for S where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

pub async fn send<S: App<B>, B: MessageBody>(app: &S, req: test::TestRequest) -> (u16, Value) {
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    (status, json_of(res).await)
}

pub fn bearer(req: test::TestRequest, token: &str) -> test::TestRequest {
    req.insert_header(("authorization", format!("Bearer {token}")))
}

pub fn login_body(login: &str, password: &str) -> Value {
    json!({"login": login, "password": password})
}

/// Asserts the error envelope and returns its `code`.
pub fn envelope_code(body: &Value) -> String {
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("no error envelope in {body}"));
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        error.get("details").is_some(),
        "the envelope always carries details (null when empty): {body}"
    );
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_owned()
}

/// An RFC 6238 implementation written here, independent of totp-rs, so the
/// tests check interoperability with authenticator apps rather than the
/// library against itself.
pub mod rfc6238 {
    use hmac::{Hmac, Mac};

    pub fn base32_decode(input: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut bits: u64 = 0;
        let mut n = 0;
        let mut out = Vec::new();
        for c in input.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET
                .iter()
                .position(|a| *a == c.to_ascii_uppercase())
                .unwrap() as u64;
            bits = (bits << 5) | v;
            n += 5;
            if n >= 8 {
                out.push((bits >> (n - 8)) as u8);
                n -= 8;
            }
        }
        out
    }

    pub fn code(secret: &[u8], unix_time: u64) -> String {
        let counter = (unix_time / 30).to_be_bytes();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
        mac.update(&counter);
        let h = mac.finalize().into_bytes();
        let offset = (h[19] & 0x0f) as usize;
        let bin = ((u32::from(h[offset]) & 0x7f) << 24)
            | (u32::from(h[offset + 1]) << 16)
            | (u32::from(h[offset + 2]) << 8)
            | u32::from(h[offset + 3]);
        format!("{:06}", bin % 1_000_000)
    }

    pub fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn matches_the_rfc_vectors() {
        // RFC 6238 appendix B (SHA-1), last six digits.
        assert_eq!(code(b"12345678901234567890", 59), "287082");
        assert_eq!(code(b"12345678901234567890", 1_111_111_109), "081804");
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQ"), b"1234567890");
    }
}

/// The production application served over TCP by `workers` actix workers
/// on a free port: its address and the handle that stops it.
pub fn serve(
    state: AppState,
    workers: usize,
) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let server = actix_web::HttpServer::new(move || presswork_api::startup::app(state.clone()))
        .workers(workers)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    (addr, handle)
}
