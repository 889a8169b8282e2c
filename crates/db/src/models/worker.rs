//! Liveness of worker processes (the `workers` table).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::workers;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = workers, check_for_backend(diesel::pg::Pg))]
pub struct Worker {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub running: i32,
    pub completed: i64,
    pub failed: i64,
    pub task_kinds: Vec<Option<String>>,
    /// The LLM providers as this worker sees them (`ProviderHealth`s).
    pub providers: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub running: i32,
    pub completed: i64,
    pub failed: i64,
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

pub async fn register(
    conn: &mut AsyncPgConnection,
    id: &str,
    version: &str,
    kinds: &[String],
) -> QueryResult<()> {
    let kinds: Vec<Option<String>> = kinds.iter().cloned().map(Some).collect();
    diesel::insert_into(workers::table)
        .values((
            workers::id.eq(id),
            workers::host.eq(host()),
            workers::pid.eq(std::process::id() as i32),
            workers::version.eq(version),
            workers::task_kinds.eq(&kinds),
        ))
        .on_conflict(workers::id)
        .do_update()
        .set((
            workers::host.eq(host()),
            workers::pid.eq(std::process::id() as i32),
            workers::version.eq(version),
            workers::task_kinds.eq(&kinds),
            workers::started_at.eq(diesel::dsl::now),
            workers::last_heartbeat_at.eq(diesel::dsl::now),
            workers::stopped_at.eq(None::<DateTime<Utc>>),
            workers::running.eq(0),
            workers::completed.eq(0i64),
            workers::failed.eq(0i64),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records that the worker is alive, its counters and the LLM providers'
/// health as it sees them (`[]` when it calls none).
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    id: &str,
    c: &Counters,
    providers: &serde_json::Value,
) -> QueryResult<()> {
    diesel::update(workers::table.find(id))
        .set((
            workers::providers.eq(providers),
            workers::last_heartbeat_at.eq(diesel::dsl::now),
            workers::running.eq(c.running),
            workers::completed.eq(c.completed),
            workers::failed.eq(c.failed),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn stopped(conn: &mut AsyncPgConnection, id: &str, c: &Counters) -> QueryResult<()> {
    diesel::update(workers::table.find(id))
        .set((
            workers::stopped_at.eq(diesel::dsl::now),
            workers::running.eq(0),
            workers::completed.eq(c.completed),
            workers::failed.eq(c.failed),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Workers seen within `fresh_secs` and not stopped, most recent first.
pub async fn live(conn: &mut AsyncPgConnection, fresh_secs: i64) -> QueryResult<Vec<Worker>> {
    workers::table
        .filter(workers::stopped_at.is_null())
        .filter(
            workers::last_heartbeat_at.gt(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
                &format!("now() - interval '{} seconds'", fresh_secs.max(1)),
            )),
        )
        .order(workers::last_heartbeat_at.desc())
        .select(Worker::as_select())
        .load(conn)
        .await
}

/// Every worker row, most recent first (stopped ones included).
pub async fn all(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Worker>> {
    workers::table
        .order(workers::last_heartbeat_at.desc())
        .limit(limit)
        .select(Worker::as_select())
        .load(conn)
        .await
}
