//! LISTEN on one channel over a dedicated connection, reconnecting by itself.
//! Used by the worker (wake-ups on new tasks) and the API (task events for
//! Server-Sent Events): one connection per process, never a pooled one.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;

/// What the callback is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Listening (again): anything sent while disconnected was missed.
    Connected,
    /// A notification's payload.
    Notified(String),
    /// The connection was lost; polling should cover the gap.
    Disconnected,
}

/// Runs until the process ends. `check_every` bounds how long a silently
/// dead connection goes unnoticed.
pub async fn listen<F>(url: String, channel: &'static str, check_every: Duration, on_event: F)
where
    F: Fn(Event) + Send + Sync,
{
    loop {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                if diesel::sql_query(format!("LISTEN {channel}"))
                    .execute(&mut conn)
                    .await
                    .is_ok()
                {
                    tracing::debug!(channel, "listening");
                    on_event(Event::Connected);
                    serve(&mut conn, check_every, &on_event).await;
                }
                on_event(Event::Disconnected);
                tracing::warn!(channel, "notification connection lost; reconnecting");
            }
            Err(e) => {
                tracing::warn!(channel, error.cause = %e, "cannot open the notification connection")
            }
        }
        tokio::time::sleep(check_every).await;
    }
}

async fn serve<F: Fn(Event)>(conn: &mut AsyncPgConnection, check_every: Duration, on_event: &F) {
    loop {
        let timed_out = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            tokio::select! {
                n = stream.next() => match n {
                    Some(Ok(n)) => { on_event(Event::Notified(n.payload)); false }
                    Some(Err(_)) | None => return,
                },
                () = tokio::time::sleep(check_every) => true,
            }
        };
        // The stream never ends by itself; ask the server whether we are alive.
        if timed_out && diesel::sql_query("SELECT 1").execute(conn).await.is_err() {
            return;
        }
    }
}
