//! Counts for the operations metrics, straight from the tables.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Date, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct PostCounts {
    #[diesel(sql_type = BigInt)]
    pub published: i64,
    #[diesel(sql_type = BigInt)]
    pub drafts: i64,
    #[diesel(sql_type = BigInt)]
    pub scheduled: i64,
    #[diesel(sql_type = BigInt)]
    pub archived: i64,
}

pub async fn posts(conn: &mut AsyncPgConnection) -> diesel::QueryResult<PostCounts> {
    diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'published' AND published_at <= now()) AS published,
                count(*) FILTER (WHERE status = 'draft') AS drafts,
                count(*) FILTER (WHERE status = 'scheduled'
                                 OR (status = 'published' AND published_at > now())) AS scheduled,
                count(*) FILTER (WHERE status = 'archived') AS archived
           FROM posts",
    )
    .get_result(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct ContentCounts {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    #[diesel(sql_type = BigInt)]
    pub awaiting_approval: i64,
    #[diesel(sql_type = BigInt)]
    pub approved: i64,
    #[diesel(sql_type = BigInt)]
    pub published: i64,
    #[diesel(sql_type = BigInt)]
    pub rejected: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub avg_quality_score: Option<f64>,
}

pub async fn content(conn: &mut AsyncPgConnection) -> diesel::QueryResult<ContentCounts> {
    diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'running') AS running,
                count(*) FILTER (WHERE status = 'awaiting_approval') AS awaiting_approval,
                count(*) FILTER (WHERE status = 'approved') AS approved,
                count(*) FILTER (WHERE status = 'published') AS published,
                count(*) FILTER (WHERE status = 'rejected') AS rejected,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                avg(quality_score) AS avg_quality_score
           FROM content_tasks",
    )
    .get_result(conn)
    .await
}

/// Spend and tokens per UTC day, provider and model.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct DailyCost {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub model: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
    #[diesel(sql_type = Double)]
    pub cost_usd: f64,
}

pub async fn daily_costs(
    conn: &mut AsyncPgConnection,
    since: Option<DateTime<Utc>>,
) -> diesel::QueryResult<Vec<DailyCost>> {
    diesel::sql_query(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, provider, model, count(*) AS calls,
                coalesce(sum(input_tokens), 0)::int8 AS input_tokens,
                coalesce(sum(output_tokens), 0)::int8 AS output_tokens,
                coalesce(sum(cost_usd), 0)::float8 AS cost_usd
           FROM llm_calls WHERE $1::timestamptz IS NULL OR created_at >= $1
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .bind::<Nullable<Timestamptz>, _>(since)
    .load(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct KindStatus {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

pub async fn tasks_by_kind(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<KindStatus>> {
    diesel::sql_query(
        "SELECT task_type AS kind, status, count(*) AS count FROM tasks GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .load(conn)
    .await
}
