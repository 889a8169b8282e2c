//! Database audit and cleanup for `presswork db audit|cleanup`.
//!
//! Older deployments of this system carried seven tables Presswork no longer
//! has; the audit labels every table in the `public` schema and the cleanup
//! drops those seven, refusing to destroy rows unless forced.

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::DbError;

/// Tables that older deployments carried and Presswork does not use.
pub const LEGACY_TABLES: [&str; 7] = [
    "feature_flags",
    "settings_audit_log",
    "logs",
    "financial_entries",
    "agent_status",
    "health_checks",
    "content_metrics",
];

/// Presswork's own tables (plus Diesel's migration bookkeeping).
/// Every table a migration creates (each with its reason at the top of the
/// migration), and Diesel's own.
pub const PRESSWORK_TABLES: [&str; 28] = [
    "__diesel_schema_migrations",
    "api_keys",
    "audit_events",
    "authors",
    "categories",
    "chat_messages",
    "content_tasks",
    "llm_calls",
    "login_failures",
    "permissions",
    "post_counts",
    "post_revisions",
    "post_slug_history",
    "post_tags",
    "posts",
    "preview_links",
    "rate_limit_counters",
    "revision_chunks",
    "role_permissions",
    "roles",
    "sessions",
    "settings",
    "tags",
    "tasks",
    "user_roles",
    "users",
    "webhook_subscriptions",
    "workers",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableStatus {
    /// A Presswork table holding rows.
    Active,
    /// A Presswork table with no rows.
    Empty,
    /// One of the seven tables older deployments carried.
    Legacy,
    /// Anything else.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableAudit {
    pub name: String,
    pub rows: i64,
    pub total_bytes: i64,
    pub status: TableStatus,
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    total_bytes: i64,
}

/// Exact row counts and sizes of every table in `public`, sorted by name.
pub async fn audit(conn: &mut AsyncPgConnection) -> Result<Vec<TableAudit>, DbError> {
    // query_to_xml runs one exact count per table inside a single statement,
    // with identifiers quoted by format('%I').
    let rows: Vec<AuditRow> = sql_query(
        "SELECT c.relname::text AS name,
                (xpath('/row/n/text()',
                       query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                    false, true, '')))[1]::text::bigint AS rows,
                pg_total_relation_size(c.oid) AS total_bytes
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          ORDER BY c.relname",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let status = classify(&r.name, r.rows);
            TableAudit {
                name: r.name,
                rows: r.rows,
                total_bytes: r.total_bytes,
                status,
            }
        })
        .collect())
}

pub fn classify(name: &str, rows: i64) -> TableStatus {
    if LEGACY_TABLES.contains(&name) {
        TableStatus::Legacy
    } else if PRESSWORK_TABLES.contains(&name) {
        if rows > 0 {
            TableStatus::Active
        } else {
            TableStatus::Empty
        }
    } else {
        TableStatus::Unknown
    }
}

/// What `cleanup` would drop: each legacy table present, with its row count.
pub async fn legacy_tables_present(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(audit(conn)
        .await?
        .into_iter()
        .filter(|t| t.status == TableStatus::Legacy)
        .map(|t| (t.name, t.rows))
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("legacy table {table} holds {rows} rows; rerun with --force to drop it anyway")]
    NotEmpty { table: String, rows: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CleanupError {
    fn from(e: diesel::result::Error) -> Self {
        CleanupError::Db(DbError::Query(e))
    }
}

/// Drops the legacy tables present, all in one transaction. Rows are counted
/// again under an exclusive lock inside that transaction, so rows written
/// after a dry run are never dropped by surprise. Returns the tables dropped.
pub async fn drop_legacy_tables(
    conn: &mut AsyncPgConnection,
    force: bool,
) -> Result<Vec<String>, CleanupError> {
    conn.transaction::<_, CleanupError, _>(async |conn| {
        {
            let present = legacy_tables_present(conn).await?;
            if present.is_empty() {
                return Ok(Vec::new());
            }
            let names: Vec<String> = present.iter().map(|(n, _)| quote_ident(n)).collect();
            sql_query(format!(
                "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                names.join(", ")
            ))
            .execute(conn)
            .await?;
            if !force {
                for (name, _) in &present {
                    #[derive(QueryableByName)]
                    struct Count {
                        #[diesel(sql_type = BigInt)]
                        n: i64,
                    }
                    let count: Count =
                        sql_query(format!("SELECT count(*) AS n FROM {}", quote_ident(name)))
                            .get_result(conn)
                            .await?;
                    if count.n > 0 {
                        return Err(CleanupError::NotEmpty {
                            table: name.clone(),
                            rows: count.n,
                        });
                    }
                }
            }
            // One statement, so foreign keys between legacy tables do not matter;
            // no CASCADE, so anything else depending on them makes it fail safely.
            sql_query(format!("DROP TABLE {}", names.join(", ")))
                .execute(conn)
                .await?;
            Ok(present.into_iter().map(|(n, _)| n).collect())
        }
    })
    .await
}

/// Quotes an identifier the way PostgreSQL's quote_ident does.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
