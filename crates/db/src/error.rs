use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    /// No connection could be had (database down, pool exhausted, timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("invalid database configuration: {0}")]
    Config(String),
}

impl From<deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>> for DbError {
    fn from(e: deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

impl From<diesel::ConnectionError> for DbError {
    fn from(e: diesel::ConnectionError) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

/// The constraint (or unique index) a unique violation hit, if that is what `e` is.
pub fn unique_violation(e: &diesel::result::Error) -> Option<&str> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => Some(info.constraint_name().unwrap_or("")),
        _ => None,
    }
}

/// Whether a query failed because the connection to the server was lost
/// (server restarted, connection killed) rather than because of the query.
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("connection closed")
                || m.contains("terminating connection")
                || m.contains("Connection reset")
        }
        _ => false,
    }
}

/// PostgreSQL refused text it cannot store: a NUL character (`\u0000`) in a
/// `text` or `jsonb` value, or an invalid byte sequence. Bad input, not a
/// server fault.
pub fn is_unstorable_text(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("invalid byte sequence for encoding")
                || m.contains("unsupported Unicode escape sequence")
                || m.contains("cannot be converted to text")
        }
        _ => false,
    }
}

/// The name of the CHECK constraint a write violated, if that is the error.
pub fn check_violation(e: &diesel::result::Error) -> Option<&str> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::CheckViolation,
            info,
        ) => Some(info.constraint_name().unwrap_or("a check constraint")),
        _ => None,
    }
}
