//! Failed sign-ins per login name (`login_failures`), whether or not an
//! account has the name, so a lockout reveals nothing about who exists.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::login_failures;

/// The name as the lockout counts it: trimmed and lower-cased.
pub fn key_of(login: &str) -> String {
    login.trim().to_lowercase()
}

/// When the name's lock ends, if it is locked now.
pub async fn locked_until(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Option<DateTime<Utc>>> {
    login_failures::table
        .find(key)
        .select(login_failures::locked_until)
        .first::<Option<DateTime<Utc>>>(conn)
        .await
        .optional()
        .map(|until| until.flatten().filter(|t| *t > Utc::now()))
}

/// Counts one failure; at the `threshold`-th the name is locked for
/// `lock_for` and the count starts again. Returns the lock's end when this
/// failure locked it.
pub async fn record(
    conn: &mut AsyncPgConnection,
    key: &str,
    threshold: i32,
    lock_for: chrono::Duration,
) -> QueryResult<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
        locked_until: Option<DateTime<Utc>>,
    }
    let row: Row = diesel::sql_query(
        "INSERT INTO login_failures AS f (login_key, failed_count, locked_until)
         VALUES ($1, CASE WHEN 1 >= $2 THEN 0 ELSE 1 END,
                 CASE WHEN 1 >= $2 THEN now() + $3 END)
         ON CONFLICT (login_key) DO UPDATE SET
             failed_count = CASE WHEN f.failed_count + 1 >= $2 THEN 0 ELSE f.failed_count + 1 END,
             locked_until = CASE WHEN f.failed_count + 1 >= $2 THEN now() + $3 ELSE f.locked_until END,
             updated_at = now()
         RETURNING locked_until",
    )
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Integer, _>(threshold)
    .bind::<diesel::sql_types::Interval, _>(lock_for)
    .get_result(conn)
    .await?;
    Ok(row.locked_until.filter(|t| *t > Utc::now()))
}

/// A successful sign-in forgets the name's failures.
pub async fn clear(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Drops rows idle for a day and not locked (housekeeping).
pub async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM login_failures
          WHERE updated_at < now() - interval '1 day'
            AND (locked_until IS NULL OR locked_until < now())",
    )
    .execute(conn)
    .await
}
