//! Fixed-window counters kept in process memory: per-IP login attempts and
//! per-API-key hourly limits. Several API processes each keep their own
//! counters; the operations issue moves them to a shared store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one hit for `key`; `Err(retry_after)` when over `limit` in `window`.
    pub fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<u32, Duration> {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update of a
        // counter; the map is still usable.
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err(window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(limit - entry.1)
    }

    pub fn reset(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let rl = RateLimiter::new();
        let w = Duration::from_millis(200);
        assert_eq!(rl.hit("a", 2, w), Ok(1));
        assert_eq!(rl.hit("a", 2, w), Ok(0));
        let retry = rl.hit("a", 2, w).unwrap_err();
        assert!(retry <= w);
        assert!(rl.hit("b", 2, w).is_ok());
        std::thread::sleep(w);
        assert!(rl.hit("a", 2, w).is_ok());
    }
}
