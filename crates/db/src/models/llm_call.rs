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

/// What [`reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserved {
    /// The reservation's row id.
    Admitted(i64),
    /// The month's spend (reservations included) and the limit.
    Refused { spent_usd: f64, limit_usd: f64 },
}

/// Records a call before it is made, at its estimated cost (`call.cost_usd`,
/// outcome `in_flight`), unless it does not fit the budget: refused when the
/// spend since `since`, calls in flight included, has reached `limit`, or
/// would pass it with this estimate. The check and the insert hold one
/// advisory lock, so concurrent reservations from any process see each
/// other: the limit is overshot only by what estimates under-counted.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    call: &NewLlmCall<'_>,
    since: DateTime<Utc>,
    limit: Option<f64>,
) -> QueryResult<Reserved> {
    use diesel_async::AsyncConnection;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        if let Some(limit) = limit {
            crate::locks::xact_lock(conn, crate::locks::LLM_BUDGET).await?;
            let spent = spent_since(conn, since).await?;
            let estimate = call.cost_usd.unwrap_or(0.0);
            if spent >= limit || spent + estimate > limit {
                return Ok(Reserved::Refused {
                    spent_usd: spent,
                    limit_usd: limit,
                });
            }
        }
        let id = diesel::insert_into(llm_calls::table)
            .values(call)
            .returning(llm_calls::id)
            .get_result(conn)
            .await?;
        Ok(Reserved::Admitted(id))
    })
    .await
}

/// Replaces a reservation with the call's real record (also one already
/// expired as `unknown`: the call counts once either way); false when no
/// such row exists.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    id: i64,
    call: &NewLlmCall<'_>,
) -> QueryResult<bool> {
    let n = diesel::update(llm_calls::table.find(id))
        .set((
            llm_calls::provider.eq(call.provider),
            llm_calls::model.eq(call.model),
            llm_calls::purpose.eq(call.purpose),
            llm_calls::input_tokens.eq(call.input_tokens),
            llm_calls::output_tokens.eq(call.output_tokens),
            llm_calls::cost_usd.eq(call.cost_usd),
            llm_calls::latency_ms.eq(call.latency_ms),
            llm_calls::outcome.eq(call.outcome),
            llm_calls::streamed.eq(call.streamed),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Reservations older than `older_than_s` whose process never settled them
/// (killed mid-call, or the database was unreachable when it finished)
/// become `unknown`, kept at their estimated cost. Returns how many.
pub async fn expire_reservations(
    conn: &mut AsyncPgConnection,
    older_than_s: f64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE llm_calls SET outcome = 'unknown'
          WHERE outcome = 'in_flight' AND created_at < now() - make_interval(secs => $1)",
    )
    .bind::<diesel::sql_types::Double, _>(older_than_s)
    .execute(conn)
    .await
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
                count(*) FILTER (WHERE outcome NOT IN ('ok', 'in_flight')) AS failures,
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
