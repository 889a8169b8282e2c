//! Server-Sent Events for tasks: one LISTEN connection per API process
//! fans `presswork_task_events` out to every open stream; each stream
//! re-reads its task when told it changed, and once per keepalive interval
//! when told nothing (a notification sent while the stream was being set up,
//! or while the listener was reconnecting, would otherwise leave it waiting
//! for an end it had missed).

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use futures_util::Stream;
use presswork_db::Pool;
use presswork_db::listen::{self, Event};
use presswork_db::queue::{self, Task};
use presswork_domain::access::RequestAccess;
use tokio::sync::broadcast;

use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

pub const CHANNEL: &str = "presswork_task_events";

/// Runs the process's listener; `None` on the channel means "re-read
/// everything" (after a reconnect, notifications may have been missed).
pub async fn run_listener(url: String, tx: broadcast::Sender<Option<Uuid>>) {
    listen::listen(
        url,
        CHANNEL,
        Duration::from_secs(5),
        move |event| match event {
            Event::Notified(payload) => {
                if let Ok(id) = Uuid::parse_str(&payload) {
                    let _ = tx.send(Some(id));
                }
            }
            Event::Connected => {
                let _ = tx.send(None);
            }
            Event::Disconnected => {}
        },
    )
    .await;
}

fn frame(task: &Task) -> Bytes {
    let dto = crate::routes::tasks::TaskDto::from(task.clone());
    let json = serde_json::to_string(&dto).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!(
        "event: task\nid: {}\ndata: {json}\n\n",
        task.updated_at.timestamp_micros()
    ))
}

struct StreamState {
    pool: Pool,
    id: Uuid,
    last: Option<Task>,
    first: Option<Task>,
    rx: broadcast::Receiver<Option<Uuid>>,
    keepalive: Duration,
    done: bool,
}

/// The task now, then every change, then the end when it finishes.
pub fn task_stream(
    pool: Pool,
    id: Uuid,
    first: Task,
    rx: broadcast::Receiver<Option<Uuid>>,
    keepalive: Duration,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let state = StreamState {
        pool,
        id,
        last: None,
        first: Some(first),
        rx,
        keepalive,
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if let Some(first) = s.first.take() {
            s.done = first.is_finished();
            let bytes = frame(&first);
            s.last = Some(first);
            return Some((Ok(bytes), s));
        }
        const KEEPALIVE: &[u8] = b": keepalive\n\n";
        loop {
            let wake = tokio::time::timeout(s.keepalive, s.rx.recv()).await;
            let (reread, quiet) = match wake {
                Err(_) => (true, true),
                Ok(Ok(Some(changed))) => (changed == s.id, false),
                Ok(Ok(None)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => (true, false),
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            };
            if !reread {
                continue;
            }
            let read = match s.pool.get().await {
                Ok(mut conn) => queue::find(&mut conn, s.id).await.ok().flatten(),
                Err(_) => None,
            };
            let Some(task) = read else {
                if quiet {
                    return Some((Ok(Bytes::from_static(KEEPALIVE)), s));
                }
                continue;
            };
            let changed = s
                .last
                .as_ref()
                .is_none_or(|l| l.status != task.status || l.progress != task.progress);
            if changed {
                s.done = task.is_finished();
                let bytes = frame(&task);
                s.last = Some(task);
                return Some((Ok(bytes), s));
            }
            if quiet {
                return Some((Ok(Bytes::from_static(KEEPALIVE)), s));
            }
        }
    })
}

/// The response to a task-events request (`/api/tasks/{id}/events` and the
/// console's): the task's state now, then each change, as Server-Sent
/// Events; 404 for a task the caller does not see.
pub async fn task_response(
    state: &AppState,
    access: &RequestAccess,
    id: Uuid,
) -> Result<HttpResponse, ApiError> {
    // Subscribed before the first read, so a change right after it is seen.
    let rx = state.task_events.subscribe();
    let first = {
        let mut conn = state.conn().await?;
        presswork_pipeline::requests::find_task_visible(&mut conn, access, id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such task"))?
    };
    let stream = task_stream(state.pool.clone(), id, first, rx, Duration::from_secs(15));
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
