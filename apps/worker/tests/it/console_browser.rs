//! The editorial console in a real browser: the API (in this process, over
//! real HTTP), the real presswork-worker binary, a fake OpenAI-format writer,
//! fake Serper and Pexels, and headless Chromium driven by playwright-core
//! (apps/api/console/browser/console.test.mjs). scripts/test.sh installs
//! Chromium and playwright-core; without them this test fails and says so.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::HttpServer;
use presswork_api::{AppState, startup};
use presswork_db::testing::TestDatabase;
use presswork_pipeline::testing::{FakeLlm, fake_serper_and_pexels};
use secrecy::SecretString;

const PASSWORD: &str = "a sound passphrase 42";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[actix_web::test]
async fn the_editorial_day_in_headless_chromium() {
    let browser_dir = repo_root().join("apps/api/console/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test.sh (it runs npm ci in {})",
        browser_dir.display()
    );
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: run scripts/test.sh (it installs Debian's chromium)"
    );

    let db = TestDatabase::new().await;
    let fake = FakeLlm::start().await;
    // Slow drafts, so the progress bar is seen moving.
    fake.script().delay = Some(("draft", Duration::from_millis(2500)));
    let web = fake_serper_and_pexels().await;

    let env: std::collections::HashMap<String, String> = [
        (
            "JWT_SECRET".to_owned(),
            "console-test-secret-0123456789abcdef-012345".to_owned(),
        ),
        (
            "PRESSWORK_ENCRYPTION_KEY".to_owned(),
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned(),
        ),
        (
            "PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN".to_owned(),
            "0".to_owned(),
        ),
    ]
    .into();
    let mut config = presswork_domain::runtime::load_from(&env, "console-browser").unwrap();
    config.database = db.config();
    let state = AppState::new(db.pool(), config).unwrap();
    state.spawn_listeners();

    let editor = state
        .auth
        .create_user(
            "editor@example.com",
            "editor1",
            SecretString::from(PASSWORD),
            &["editor".to_owned()],
        )
        .await
        .unwrap();
    state
        .auth
        .create_user(
            "viewer@example.com",
            "viewer1",
            SecretString::from(PASSWORD),
            &["viewer".to_owned()],
        )
        .await
        .unwrap();
    // The editor signs in with TOTP.
    let setup = state.auth.totp_setup(editor.id).await.unwrap();
    let secret_b32 = setup.provisioning.secret_base32.clone();
    let secret = data_encoding_base32(&secret_b32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = presswork_auth::totp::code_at(&secret, now).unwrap();
    state.auth.totp_enable(editor.id, &code).await.unwrap();

    let server_state = state.clone();
    let server = HttpServer::new(move || startup::app(server_state.clone()))
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let base = format!("http://{addr}");

    let shots = repo_root().join("target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let worker_log_path = shots.join("worker.log");
    let worker_log = std::fs::File::create(&worker_log_path).unwrap();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "200")
        .env("PRESSWORK__WORKER__METRICS_ADDRESS", "127.0.0.1:0")
        .env("LLM_CHAIN", "openai")
        .env("OPENAI_BASE_URL", fake.base_url())
        .env("OPENAI_MODEL", "gpt-4o-mini")
        .env("SERPER_API_KEY", "serper-test-key")
        .env("SERPER_BASE_URL", web.uri())
        .env("PEXELS_API_KEY", "pexels-test-key")
        .env("PEXELS_BASE_URL", web.uri())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(worker_log)
        .spawn()
        .unwrap();

    let log_path = shots.join("node-test.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut node = tokio::process::Command::new("node");
    node.arg("--test")
        .arg("--test-concurrency=1")
        .arg("--test-reporter=tap")
        .arg("console.test.mjs")
        .current_dir(&browser_dir)
        .env("CONSOLE_BASE_URL", &base)
        .env("CONSOLE_EDITOR", "editor1")
        .env("CONSOLE_VIEWER", "viewer1")
        .env("CONSOLE_PASSWORD", PASSWORD)
        .env("CONSOLE_EDITOR_TOTP_SECRET", &secret_b32)
        .env("CONSOLE_SCREENSHOT_DIR", &shots)
        .env("CHROMIUM_PATH", &chromium)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true);
    let mut child = node
        .spawn()
        .expect("node could not be started: run scripts/test.sh (it installs Node.js)");
    let status = tokio::time::timeout(Duration::from_secs(420), child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }

    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    handle.stop(true).await;

    let mut output = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !matches!(status, Ok(Ok(s)) if s.success()) {
        // What the worker did and where each task ended, to tell why.
        let worker_log = std::fs::read_to_string(&worker_log_path).unwrap_or_default();
        output.push_str(&format!(
            "\n--- tasks ---\n{}\n--- worker log ---\n{worker_log}",
            task_table(&db).await
        ));
    }
    let status =
        status.unwrap_or_else(|_| panic!("the browser tests took over 7 minutes:\n{output}"));
    assert!(status.unwrap().success(), "browser tests failed:\n{output}");
    let stdout = output;
    // node --test reports each test; all five must have run and passed.
    assert!(stdout.contains("# pass 5"), "{stdout}");
    for shot in ["console-queue.png", "console-review.png"] {
        let meta = std::fs::metadata(shots.join(shot)).unwrap();
        assert!(meta.len() > 10_000, "{shot} is {} bytes", meta.len());
    }
    // `UPDATE_CONSOLE_SCREENSHOTS=1` refreshes the pair shown in README.md.
    if std::env::var_os("UPDATE_CONSOLE_SCREENSHOTS").is_some() {
        for shot in ["console-queue.png", "console-review.png"] {
            std::fs::copy(shots.join(shot), repo_root().join("docs").join(shot)).unwrap();
        }
    }
}

/// RFC 4648 base32 without padding (the TOTP secret as authenticator apps get it).
fn data_encoding_base32(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = alphabet
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .unwrap() as u32;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            out.push((bits >> (n - 8)) as u8);
            n -= 8;
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// Every task with its kind, status, attempts, progress and error.
async fn task_table(db: &TestDatabase) -> String {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT concat_ws(' | ', id, task_type, status, attempts, run_at, locked_by, lease_until, progress::text, error, created_at, started_at, completed_at) AS line \
         FROM tasks ORDER BY created_at",
    )
    .load(&mut conn)
    .await
    .unwrap_or_default();
    rows.into_iter()
        .map(|r| r.line)
        .collect::<Vec<_>>()
        .join("\n")
}
