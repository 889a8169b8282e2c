//! A short-lived cache of anonymous CMS read responses (bytes and ETag).
//!
//! Correctness first: every entry belongs to a generation, and any change to
//! the CMS tables starts a new one (this process bumps it after its own
//! writes; a LISTEN on `presswork_cms` bumps it for changes made anywhere
//! else). An entry also never outlives the next moment a scheduled post
//! becomes visible, so scheduled posts still appear exactly on time.
//! Authenticated callers are never served from it.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

#[derive(Clone)]
pub struct Cached {
    pub body: Bytes,
    pub etag: String,
    generation: u64,
    expires: Instant,
}

pub struct PublicCache {
    entries: RwLock<HashMap<String, Cached>>,
    generation: AtomicU64,
    ttl: Duration,
    max_entries: usize,
}

impl PublicCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
            max_entries,
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }

    /// The generation to pass to [`put`](Self::put); read it before reading
    /// the database, so a change during the read makes the entry stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<(Bytes, String)> {
        if !self.enabled() {
            return None;
        }
        let now = Instant::now();
        let generation = self.generation();
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.generation == generation && e.expires > now)
            .map(|e| (e.body.clone(), e.etag.clone()))
    }

    /// Stores a body read under `generation`, valid until `not_after` at most.
    pub fn put(
        &self,
        key: String,
        body: Bytes,
        etag: String,
        generation: u64,
        not_after: Option<Instant>,
    ) {
        if !self.enabled() || generation != self.generation() {
            return;
        }
        let mut expires = Instant::now() + self.ttl;
        if let Some(limit) = not_after {
            expires = expires.min(limit);
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(
            key,
            Cached {
                body,
                etag,
                generation,
                expires,
            },
        );
    }

    /// Content changed: every entry is stale from now on.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_ttl_and_limits() {
        let c = PublicCache::new(Duration::from_millis(200), 2);
        let g = c.generation();
        c.put("a".into(), Bytes::from_static(b"1"), "e".into(), g, None);
        assert_eq!(c.get("a").map(|(b, _)| b), Some(Bytes::from_static(b"1")));
        c.invalidate();
        assert!(c.get("a").is_none());
        // A read that started before a change is not stored.
        c.put("a".into(), Bytes::from_static(b"old"), "e".into(), g, None);
        assert!(c.get("a").is_none());
        let g = c.generation();
        c.put(
            "b".into(),
            Bytes::from_static(b"2"),
            "e".into(),
            g,
            Some(Instant::now()),
        );
        assert!(c.get("b").is_none(), "bounded by not_after");
        c.put("c".into(), Bytes::from_static(b"3"), "e".into(), g, None);
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get("c").is_none(), "expired");
        assert!(!PublicCache::new(Duration::ZERO, 10).enabled());
    }
}
