//! Per-test databases (feature `testing`).
//!
//! Each test gets its own database, cloned from a template that is migrated
//! once per distinct `migrations/` content (its name carries a hash of it) and
//! built under an advisory lock, so parallel test processes share it safely.
//! The clone is dropped when the `TestDatabase` is dropped; clones and stale
//! templates left by killed runs are swept when a template is checked.
//!
//! The server comes from `TEST_DATABASE_URL`, else `DATABASE_URL`, else the
//! local default `postgres://postgres@127.0.0.1:5432/postgres`.
#![expect(
    clippy::expect_used,
    reason = "test harness: a set-up failure must stop the test loudly"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use presswork_domain::config::DatabaseConfig;
use sha2::{Digest, Sha256};
use url::Url;

use crate::{Pool, build_pool, migrations};

const TEMPLATE_LOCK_KEY: i64 = 0x7072_6573_735f_7465; // "press_te"
const CLONE_PREFIX: &str = "pw_test_";
const TEMPLATE_PREFIX: &str = "pw_tmpl_";
/// Clones older than this are leftovers of killed runs.
const STALE_CLONE_SECS: u64 = 3 * 3600;

pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// A fresh, fully migrated database of its own.
    pub async fn new() -> Self {
        let server = server_url();
        let admin_url = with_database(&server, "postgres");
        let template = ensure_template(&admin_url).await;
        let name = format!(
            "{CLONE_PREFIX}{}_{}",
            unix_now(),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..12)
                .unwrap_or("x")
        );
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server (set TEST_DATABASE_URL)");
        execute_retrying_busy(
            &mut admin,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        )
        .await
        .expect("clone the template database");
        Self {
            url: with_database(&server, &name),
            name,
            admin_url,
        }
    }

    /// An empty database with no migrations applied (for migration tests).
    pub async fn empty() -> Self {
        let server = server_url();
        let admin_url = with_database(&server, "postgres");
        let name = format!(
            "{CLONE_PREFIX}{}_{}",
            unix_now(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server (set TEST_DATABASE_URL)");
        sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create an empty database");
        Self {
            url: with_database(&server, &name),
            name,
            admin_url,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pool settings for this database, as the apps would build them.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self.url.clone().into(),
            pool_size: 8,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
            idle_in_transaction_timeout_ms: 60_000,
            application_name: "presswork-test".into(),
        }
    }

    pub fn pool(&self) -> Pool {
        build_pool(&self.config()).expect("build the test pool")
    }

    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs inside the test's runtime; use a thread with its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The same server URL pointing at another database.
pub fn with_database(server: &str, database: &str) -> String {
    let mut url = Url::parse(server).expect("TEST_DATABASE_URL must be a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// Hash of every file under migrations/, so a changed migration gets a new template.
pub fn migrations_hash() -> String {
    let mut files = Vec::new();
    collect_files(&migrations_dir(), &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let rel = file.strip_prefix(migrations_dir()).unwrap_or(&file);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&file).expect("read a migration file"));
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read migrations/").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(QueryableByName)]
struct DbName {
    #[diesel(sql_type = Text)]
    datname: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = BigInt)]
    #[expect(dead_code, reason = "only selected to run the lock function")]
    one: i64,
}

async fn ensure_template(admin_url: &str) -> String {
    let template = format!("{TEMPLATE_PREFIX}{}", migrations_hash());
    let mut admin = AsyncPgConnection::establish(admin_url)
        .await
        .expect("connect to the test PostgreSQL server (set TEST_DATABASE_URL)");
    let _: Locked = sql_query(format!(
        "SELECT 1::bigint AS one FROM (SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})) l"
    ))
    .get_result(&mut admin)
    .await
    .expect("take the template lock");

    let exists: Exists =
        sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&template)
            .get_result(&mut admin)
            .await
            .expect("look up the template");
    if !exists.exists {
        let building = format!("{template}_building");
        sql_query(format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut admin)
        .await
        .expect("drop a half-built template");
        sql_query(format!("CREATE DATABASE \"{building}\""))
            .execute(&mut admin)
            .await
            .expect("create the template database");
        let server = server_url();
        migrations::run_pending(&with_database(&server, &building))
            .await
            .expect("migrate the template database");
        // The migration connection may linger for a moment after closing.
        execute_retrying_busy(
            &mut admin,
            &format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\""),
        )
        .await
        .expect("publish the template database");
        sweep(&mut admin, &template).await;
    }

    let _: Locked = sql_query(format!(
        "SELECT 1::bigint AS one FROM (SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})) l"
    ))
    .get_result(&mut admin)
    .await
    .expect("release the template lock");
    template
}

/// Drops templates of other migration states and clones left by killed runs.
async fn sweep(admin: &mut AsyncPgConnection, current_template: &str) {
    let Ok(names) =
        sql_query("SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'pw\\_%'")
            .load::<DbName>(admin)
            .await
    else {
        return;
    };
    let now = unix_now();
    for DbName { datname } in names {
        let stale = if let Some(rest) = datname.strip_prefix(CLONE_PREFIX) {
            rest.split('_')
                .next()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| now.saturating_sub(t) > STALE_CLONE_SECS)
        } else {
            datname.starts_with(TEMPLATE_PREFIX)
                && datname != current_template
                && !datname.ends_with("_building")
        };
        if stale {
            // No FORCE: a database somebody is still using stays.
            let _ = sql_query(format!("DROP DATABASE IF EXISTS \"{datname}\""))
                .execute(admin)
                .await;
        }
    }
}

/// Runs a statement, retrying while another session is still attached to the
/// database involved ("is being accessed by other users"), as happens for a
/// moment after a connection to it closes.
async fn execute_retrying_busy(
    conn: &mut AsyncPgConnection,
    sql: &str,
) -> Result<(), diesel::result::Error> {
    let mut attempts = 0;
    loop {
        match sql_query(sql).execute(conn).await {
            Ok(_) => return Ok(()),
            Err(e) if attempts < 100 && e.to_string().contains("being accessed by other users") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
