//! Runs the real `presswork` binary against a database of its own per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step must stop the test loudly"
)]

use std::process::{Command, Output};

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_db::testing::TestDatabase;

mod eval;

fn presswork(db_url: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_presswork"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("PRESSWORK__DATABASE__URL")
        .env_remove("PRESSWORK_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "the CLI panicked: {stderr}");
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.unwrap();
}

fn audit_json(db_url: &str) -> Vec<serde_json::Value> {
    let out = presswork(db_url, &["db", "audit", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn status_of(rows: &[serde_json::Value], table: &str) -> Option<String> {
    rows.iter()
        .find(|r| r["name"] == table)
        .map(|r| r["status"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn migrate_and_status_on_an_empty_database() {
    let db = TestDatabase::empty().await;
    let out = presswork(db.url(), &["migrate", "--status"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).matches("[ ]").count(),
        migration_count(),
        "{}",
        stdout(&out)
    );

    let out = presswork(db.url(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("applied").count(), migration_count());

    let out = presswork(db.url(), &["migrate"]);
    assert!(stdout(&out).contains("up to date"));
    let out = presswork(db.url(), &["migrate", "--status"]);
    assert_eq!(stdout(&out).matches("[X]").count(), migration_count());
}

#[tokio::test]
async fn audit_lists_every_table_with_its_status() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE content_metrics (id int)").await;
    exec(&mut conn, "INSERT INTO content_metrics VALUES (1)").await;
    exec(&mut conn, "CREATE TABLE other_thing (id int)").await;
    let rows = audit_json(db.url());
    assert_eq!(rows.len(), 30);
    assert_eq!(
        status_of(&rows, "content_metrics").as_deref(),
        Some("legacy")
    );
    assert_eq!(status_of(&rows, "other_thing").as_deref(), Some("unknown"));
    assert_eq!(status_of(&rows, "permissions").as_deref(), Some("active"));
    assert_eq!(status_of(&rows, "posts").as_deref(), Some("empty"));
    let metrics = rows
        .iter()
        .find(|r| r["name"] == "content_metrics")
        .unwrap();
    assert_eq!(metrics["rows"], 1);

    let out = presswork(db.url(), &["db", "audit"]);
    assert!(stdout(&out).contains("content_metrics") && stdout(&out).contains("legacy"));
}

#[tokio::test]
async fn cleanup_refuses_rows_then_forces_and_is_idempotent() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE settings_audit_log (id int)").await;
    exec(&mut conn, "CREATE TABLE health_checks (id int)").await;
    exec(&mut conn, "INSERT INTO health_checks VALUES (1), (2), (3)").await;

    // Dry run: a plan, nothing changes.
    let out = presswork(db.url(), &["db", "cleanup", "--dry-run"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("DROP TABLE health_checks"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        status_of(&audit_json(db.url()), "health_checks").as_deref(),
        Some("legacy")
    );

    // Without --force: exit 2, names the table and its rows, drops nothing.
    let out = presswork(db.url(), &["db", "cleanup"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("health_checks") && stderr(&out).contains("3 rows"),
        "{}",
        stderr(&out)
    );
    let rows = audit_json(db.url());
    assert!(
        status_of(&rows, "settings_audit_log").is_some(),
        "one transaction: nothing dropped"
    );

    let out = presswork(db.url(), &["db", "cleanup", "--force", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(after.iter().all(|r| r["status"] != "legacy"), "{after:?}");

    let out = presswork(db.url(), &["db", "cleanup"]);
    assert!(out.status.success(), "idempotent: {}", stderr(&out));

    // The run that dropped tables is in the audit trail, by the CLI; the
    // refused run and the runs with nothing to drop are not.
    let (events, _) = presswork_db::audit::list(&mut conn, &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].action, "legacy.cleanup");
    assert_eq!(events[0].actor_label.as_deref(), Some("cli"));
    let mut dropped: Vec<String> =
        serde_json::from_value(events[0].summary["dropped"].clone()).unwrap();
    dropped.sort();
    assert_eq!(dropped, ["health_checks", "settings_audit_log"]);
}

#[tokio::test]
async fn seed_is_idempotent() {
    let db = TestDatabase::new().await;
    let out = presswork(db.url(), &["seed", "--sample"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("7 posts inserted"),
        "{}",
        stdout(&out)
    );
    let out = presswork(db.url(), &["seed", "--sample"]);
    assert!(
        stdout(&out).contains("0 posts inserted"),
        "{}",
        stdout(&out)
    );
    // Seeded posts carry their rendered HTML; render-html fills in what a
    // hand edit dropped, and only that.
    let out = presswork(db.url(), &["db", "render-html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("rendered the HTML of 0 posts"),
        "{}",
        stdout(&out)
    );
    let mut conn = db.connect().await;
    // Each sample post starts its history with a revision by the CLI.
    let revisions: Vec<Count> = diesel::sql_query(
        "SELECT count(*) AS n FROM post_revisions r JOIN posts p ON p.id = r.post_id WHERE r.source = 'cli' AND r.message = 'sample data'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(revisions[0].n, 7);
    exec(&mut conn, "UPDATE posts SET content = content || ' (edited)' WHERE slug IN (SELECT slug FROM posts ORDER BY slug LIMIT 2)").await;
    let out = presswork(db.url(), &["db", "render-html"]);
    assert!(
        stdout(&out).contains("rendered the HTML of 2 posts"),
        "{}",
        stdout(&out)
    );
    let missing: Vec<Count> = diesel::sql_query(
        "SELECT count(*) AS n FROM posts WHERE content_html IS NULL OR content_html NOT LIKE '%(edited)%' AND content LIKE '%(edited)'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(missing[0].n, 0);
    let out = presswork(db.url(), &["db", "render-html", "--all"]);
    assert!(
        stdout(&out).contains("rendered the HTML of 7 posts"),
        "{}",
        stdout(&out)
    );
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let out = presswork("postgres://postgres@127.0.0.1:1/nothing", &["db", "audit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("could not connect"),
        "{}",
        stderr(&out)
    );
    let out = presswork("mysql://nope", &["db", "audit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
}

#[tokio::test]
async fn admin_create_from_stdin() {
    use std::io::Write;
    let db = TestDatabase::new().await;
    let run = |username: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_presswork"))
            .args([
                "admin",
                "create",
                "--email",
                &format!("{username}@example.com"),
                "--username",
                username,
                "--password-stdin",
            ])
            .env("DATABASE_URL", db.url())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("boss", "a sound passphrase 42");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created administrator boss"));
    assert!(!stdout(&out).contains("a sound passphrase"));

    let out = run("boss", "a sound passphrase 42");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("username") || stderr(&out).contains("email"),
        "{}",
        stderr(&out)
    );
    let out = run("weak", "short");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least 12"), "{}", stderr(&out));

    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT r.name AS role FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id WHERE u.username = 'boss'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.role.as_str()).collect::<Vec<_>>(),
        vec!["admin"]
    );
}

/// The migrations in the repository (each a directory with up.sql).
fn migration_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
        .count()
}

/// With no DATABASE_URL, the CLI uses the database scripts/dev.sh wrote down
/// in this checkout, and says which database it used (never its password).
#[tokio::test]
async fn finds_dev_shs_database_when_none_is_named() {
    let db = TestDatabase::new().await;
    let dir = std::env::temp_dir().join(format!("pw-cli-dev-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".data")).unwrap();
    std::fs::write(
        dir.join(".data/dev-database-url"),
        format!("{}\n", db.url()),
    )
    .unwrap();
    let run = |cwd: &std::path::Path, envs: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_presswork"));
        c.args(["migrate", "--status"])
            .current_dir(cwd)
            .env_remove("DATABASE_URL")
            .env_remove("PRESSWORK__DATABASE__URL")
            .env_remove("PRESSWORK_CONFIG");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(&dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(db.url()) && said.contains(".data/dev-database-url"),
        "{said}"
    );
    // A named database wins over dev.sh's, and a password is never printed.
    let out = run(
        &dir,
        &[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/nothing")],
    );
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("127.0.0.1:1/nothing") && !said.contains("hunter2"),
        "{said}"
    );
    assert!(!said.contains("dev-database-url"), "{said}");
    std::fs::remove_dir_all(dir).unwrap();
}
