//! Transaction-scoped advisory locks, for work that must not run twice at once.

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Serialises first-administrator creation.
pub const INIT_ADMIN: i64 = 7_368_277;

/// Takes an advisory lock released when the current transaction ends.
pub async fn xact_lock(conn: &mut AsyncPgConnection, key: i64) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Serialises creators of rows whose slug derives from the same base (within
/// one table), so they see each other's choice instead of colliding.
pub async fn slug_lock(
    conn: &mut AsyncPgConnection,
    table: &str,
    base: &str,
) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind::<diesel::sql_types::Text, _>(format!("slug:{table}:{base}"))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Serialises LLM call reservations, so the budget check and the
/// reservation that follows it are one step across every process.
pub const LLM_BUDGET: i64 = 7_368_279;

/// Only one worker at a time does housekeeping.
pub const HOUSEKEEPING: i64 = 7_368_278;

/// Tries to take an advisory lock for the current transaction; false when
/// someone else holds it.
pub async fn try_xact_lock(conn: &mut AsyncPgConnection, key: i64) -> diesel::QueryResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        got: bool,
    }
    let g: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS got")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .get_result(conn)
        .await?;
    Ok(g.got)
}
