//! Shared rate-limit counters (`rate_limit_counters`): processes add their
//! local counts per bucket and window and read back the totals.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Debug, QueryableByName)]
pub struct Total {
    #[diesel(sql_type = Text)]
    pub bucket: String,
    #[diesel(sql_type = BigInt)]
    pub hits: i64,
}

/// Adds `deltas[i]` hits to `buckets[i]` in the window; returns each total.
pub async fn add(
    conn: &mut AsyncPgConnection,
    window_start: DateTime<Utc>,
    buckets: &[String],
    deltas: &[i64],
) -> diesel::QueryResult<Vec<Total>> {
    diesel::sql_query(
        "INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
         SELECT b, $2, d FROM unnest($1::text[], $3::int8[]) AS t(b, d)
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + EXCLUDED.hits
         RETURNING bucket, hits",
    )
    .bind::<Array<Text>, _>(buckets)
    .bind::<Timestamptz, _>(window_start)
    .bind::<Array<BigInt>, _>(deltas)
    .load(conn)
    .await
}

/// Drops windows that ended before `before`.
pub async fn prune(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    diesel::sql_query("DELETE FROM rate_limit_counters WHERE window_start < $1")
        .bind::<Timestamptz, _>(before)
        .execute(conn)
        .await
}
