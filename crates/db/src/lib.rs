//! Presswork's persistence: the Diesel schema, row models, queries, migrations
//! and the connection pool (diesel-async over deadpool).
//!
//! This is the only crate that talks to PostgreSQL. Query functions take a
//! `&mut AsyncPgConnection` so the caller decides the transaction; nothing here
//! knows about HTTP or LLMs. Runs without libpq: diesel's `postgres_backend`
//! with diesel-async (tokio-postgres underneath).

pub mod admin;
pub mod audit;
pub mod cms;
mod columns;
pub mod error;
pub mod listen;
pub mod locks;
pub mod metrics;
pub mod migrations;
pub mod models;
pub mod pool;
pub mod preview_links;
pub mod queue;
pub mod rate_limits;
pub mod revisions;
pub mod schema;
pub mod seed;
pub mod text_enum;
pub mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use diesel::result::{DatabaseErrorKind, Error as QueryError};
/// In scope for `conn.transaction(async |conn| ...)` in the crates above.
pub use diesel_async::{AsyncConnection, AsyncPgConnection};
pub use error::DbError;
pub use pool::{Pool, PooledConnection, build_pool, ping};
