//! The LLM spend ledger (`llm_calls`): one row per provider attempt.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::llm_calls;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = llm_calls)]
pub struct NewLlmCall<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub purpose: Option<&'a str>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Option<f64>,
    pub latency_ms: i32,
    pub outcome: &'a str,
    pub streamed: bool,
}

pub async fn insert(conn: &mut AsyncPgConnection, call: &NewLlmCall<'_>) -> QueryResult<()> {
    diesel::insert_into(llm_calls::table)
        .values(call)
        .execute(conn)
        .await
        .map(drop)
}

/// Dollars spent since `since` (calls without a price count as 0).
pub async fn spent_since(conn: &mut AsyncPgConnection, since: DateTime<Utc>) -> QueryResult<f64> {
    llm_calls::table
        .filter(llm_calls::created_at.ge(since))
        .select(diesel::dsl::sum(llm_calls::cost_usd))
        .get_result::<Option<f64>>(conn)
        .await
        .map(Option::unwrap_or_default)
}

/// Per provider and model since `since`: calls, failures, tokens and cost.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct Usage {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub provider: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub model: String,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub calls: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub failures: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub input_tokens: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub output_tokens: i64,
    #[diesel(sql_type = diesel::sql_types::Float8)]
    pub cost_usd: f64,
}

pub async fn usage_since(
    conn: &mut AsyncPgConnection,
    since: DateTime<Utc>,
) -> QueryResult<Vec<Usage>> {
    diesel::sql_query(
        "SELECT provider, model, count(*) AS calls,
                count(*) FILTER (WHERE outcome <> 'ok') AS failures,
                coalesce(sum(input_tokens), 0)::int8 AS input_tokens,
                coalesce(sum(output_tokens), 0)::int8 AS output_tokens,
                coalesce(sum(cost_usd), 0) AS cost_usd
         FROM llm_calls WHERE created_at >= $1
         GROUP BY provider, model ORDER BY provider, model",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .load(conn)
    .await
}
