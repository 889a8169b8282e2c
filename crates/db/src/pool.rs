//! The one pool constructor, used by every process.

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use presswork_domain::config::DatabaseConfig;
use secrecy::ExposeSecret;

use crate::DbError;

pub type Pool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
pub type PooledConnection = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// Builds the pool. Connections are opened lazily, so this succeeds while the
/// database is down; each new connection gets `application_name`,
/// `statement_timeout` and `idle_in_transaction_session_timeout` set.
pub fn build_pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let session_sql = format!(
        "SET application_name = '{}'; SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {};",
        sql_literal_body(&config.application_name),
        config.statement_timeout_ms,
        config.idle_in_transaction_timeout_ms,
    );
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No test query on every checkout (a round trip per request): a connection
    // the server dropped fails its next query, is marked broken and replaced,
    // and that failure is reported as 503 (see `error::is_connection_lost`).
    manager_config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url: &str| {
        let session_sql = session_sql.clone();
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&session_sql)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        config.url.expose_secret(),
        manager_config,
    );
    let timeout = Duration::from_millis(config.acquire_timeout_ms);
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Config(e.to_string()))
}

/// Escapes a value for use inside a single-quoted SQL literal.
fn sql_literal_body(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('\'', "''")
}

/// Checks out a connection and runs `SELECT 1`: the database answers.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    use diesel_async::RunQueryDsl;
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escaping() {
        assert_eq!(sql_literal_body("presswork-api"), "presswork-api");
        assert_eq!(sql_literal_body("a'b;\n--"), "a''b;--");
    }
}
