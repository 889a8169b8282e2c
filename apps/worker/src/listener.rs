//! Wake-ups for the claim loop: NOTIFY on `presswork_tasks` when work
//! arrives. When the connection drops, the claim loop's polling covers the
//! gap until the listener has reconnected.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use presswork_db::listen::{self, Event};
use tokio::sync::Notify;

pub const CHANNEL: &str = "presswork_tasks";

#[derive(Default)]
pub struct Wakeups {
    pub notify: Notify,
    /// Whether notifications are arriving (for logs and tests).
    pub connected: AtomicBool,
}

pub async fn listen(url: String, wake: Arc<Wakeups>, check_every: Duration) {
    listen::listen(url, CHANNEL, check_every, move |event| match event {
        Event::Connected => {
            wake.connected.store(true, Ordering::SeqCst);
            // Work enqueued while we were away is found by this poke.
            wake.notify.notify_one();
        }
        Event::Notified(_) => wake.notify.notify_one(),
        Event::Disconnected => wake.connected.store(false, Ordering::SeqCst),
    })
    .await;
}
