//! Embedded migrations, run without libpq through diesel-async's
//! `AsyncConnectionWrapper`.
//!
//! The wrapper blocks on its own runtime, so it runs on a dedicated OS thread;
//! that works from any async runtime (actix's current-thread one included).
//! A session advisory lock keeps two processes that start together (API and
//! worker) from applying the same migration twice.

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::DbError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Arbitrary constant naming the migration advisory lock.
const MIGRATION_LOCK_KEY: i64 = 0x7072_6573_735f_6d69; // "press_mi"

type SyncPg = AsyncConnectionWrapper<AsyncPgConnection>;

/// One migration and whether it has been applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationStatus {
    pub version: String,
    pub name: String,
    pub applied: bool,
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(url: &str) -> Result<Vec<String>, DbError> {
    with_locked_connection(url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| DbError::Migration(e.to_string()))
    })
    .await
}

/// Reverts every applied migration, newest first (tests and `down` checks).
pub async fn revert_all(url: &str) -> Result<Vec<String>, DbError> {
    with_locked_connection(url, |conn| {
        conn.revert_all_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| DbError::Migration(e.to_string()))
    })
    .await
}

/// Every embedded migration, in order, with whether it is applied.
pub async fn status(url: &str) -> Result<Vec<MigrationStatus>, DbError> {
    with_locked_connection(url, |conn| {
        let applied = conn
            .applied_migrations()
            .map_err(|e| DbError::Migration(e.to_string()))?;
        let all = MigrationSource::<Pg>::migrations(&MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(all
            .iter()
            .map(|m| {
                let name = m.name();
                MigrationStatus {
                    version: name.version().to_string(),
                    name: name.to_string(),
                    applied: applied.contains(&name.version()),
                }
            })
            .collect())
    })
    .await
}

async fn with_locked_connection<T, F>(url: &str, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut SyncPg) -> Result<T, DbError> + Send + 'static,
{
    let url = url.to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("presswork-migrations".into())
        .spawn(move || {
            let result = (|| {
                let mut conn = SyncPg::establish(&url)?;
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .execute(&mut conn)?;
                let outcome = work(&mut conn);
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    .execute(&mut conn)?;
                outcome
            })();
            let _ = tx.send(result);
        })
        .map_err(|e| DbError::Migration(format!("could not start migration thread: {e}")))?;
    rx.await
        .map_err(|_| DbError::Migration("migration thread ended without an answer".into()))?
}
