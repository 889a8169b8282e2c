//! A short-lived cache of anonymous CMS read responses (bytes and ETag).
//!
//! Correctness first: every entry belongs to a generation, and any change to
//! the CMS tables starts a new one (this process bumps it after its own
//! writes; a LISTEN on `presswork_cms` bumps it for changes made anywhere
//! else). An entry never outlives the next moment a scheduled post becomes
//! visible, so scheduled posts still appear exactly on time. Authenticated
//! callers are never served from it.
//!
//! Within a generation the content cannot have changed (view counts aside),
//! so when an entry's TTL runs out one request refreshes it while the others
//! keep getting the previous copy: no stampede on the database.
//!
//! Whole answers miss often on a real site (thousands of slugs and pages,
//! and every publication starts a new generation), so the cache also keeps
//! each post's serialised representation — a list item, with or without
//! its content, or the whole post — under the post's [`Signature`] (its
//! row's `updated_at` and its tags). A page or post that misses is then
//! assembled from those fragments after a probe of ids and signatures,
//! reading only the posts whose fragment is missing or stale; fragments
//! survive generations, because the probe says whether each is current.
//! What a signature cannot see — the names of categories, authors and tags
//! — ends them all ([`PublicCache::invalidate_terms`]). Half of the byte
//! budget holds whole answers, half fragments; fragments are evicted by
//! quick_cache's S3-FIFO policy when full, and a full store keeps only some
//! of what it reads ([`PublicCache::admit_fragment`],
//! [`PublicCache::list_read`]).
//!
//! A whole answer is kept only when its URL was asked for before within the
//! TTL, or by another request while it was being computed
//! ([`PublicCache::asked_recently`]): had the first answer been kept, that
//! request would have been served from it. Random pages and tags over a
//! large site are mostly asked once per TTL; keeping them cost more than it
//! saved (whole answers of 100 KB filled and swept, hardly ever served, made
//! the cache slower than no cache, docs/PERFORMANCE.md), while a URL asked
//! for twice in its TTL is kept from its second answer on. This is the
//! "cache on second hit" rule CDNs use against one-hit wonders (Maggs and
//! Sitaraman, "Algorithmic Nuggets in Content Delivery", 2015).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use presswork_db::cms::Signature;
use uuid::Uuid;

struct Cached {
    body: Bytes,
    etag: String,
    generation: u64,
    /// Fresh until then; served while another request refreshes it after.
    fresh_until: Instant,
    /// Never served after this (a scheduled post becomes visible).
    hard_limit: Option<Instant>,
    refreshing: Arc<AtomicBool>,
    /// What the entry holds, for the byte budget.
    size: usize,
}

/// Bookkeeping per entry beyond its key and body (map slot, ETag, flags).
const ENTRY_OVERHEAD: usize = 160;

#[derive(Default)]
struct Store {
    map: HashMap<String, Cached>,
    /// Sum of the entries' `size`.
    bytes: usize,
}

impl Store {
    fn insert(&mut self, key: String, entry: Cached) {
        self.bytes += entry.size;
        if let Some(old) = self.map.insert(key, entry) {
            self.bytes -= old.size;
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&Cached) -> bool) {
        let mut bytes = 0;
        self.map.retain(|_, e| {
            let kept = keep(e);
            if kept {
                bytes += e.size;
            }
            kept
        });
        self.bytes = bytes;
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// Held by the one request filling a key after a miss; waiters wake when it drops.
pub struct FillGuard<'a> {
    cache: &'a PublicCache,
    key: String,
    filling: Arc<Filling>,
}

impl FillGuard<'_> {
    /// Whether another request asked for the key while this one computed it.
    pub fn wanted(&self) -> bool {
        self.filling.wanted.load(Ordering::Acquire)
    }
}

/// A key being computed: its waiters, and whether there were any.
#[derive(Default)]
struct Filling {
    done: Arc<tokio::sync::Notify>,
    wanted: AtomicBool,
}

impl Drop for FillGuard<'_> {
    fn drop(&mut self) {
        let notify = self
            .cache
            .filling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
        if let Some(n) = notify {
            n.done.notify_waiters();
        }
    }
}

/// A public total: the generation it was counted in, the total, and the
/// next visibility change known then (it is not valid after).
type CountEntry = (u64, i64, Option<Instant>);

/// What a lookup found.
pub enum Lookup {
    /// Serve this.
    Hit(Bytes, String),
    /// Serve this, but refresh it: the caller holds the refresh token.
    Stale(Bytes, String),
    /// Compute it.
    Miss,
}

/// Which representation of a post a fragment holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FragmentKey {
    /// A list item; `summary` leaves out the content.
    Item { id: Uuid, summary: bool },
    /// The whole answer of `GET /api/posts/{key}`, by the key as asked (a
    /// slug or an id).
    Detail(String),
}

/// A post's serialised representation and what it was made from.
pub struct Fragment {
    pub id: Uuid,
    pub signature: Signature,
    /// The terms generation it was read in.
    terms: u64,
    pub bytes: Bytes,
}

/// Bookkeeping per fragment beyond its bytes (map slot, key, signature).
const FRAGMENT_OVERHEAD: usize = 128;

#[derive(Clone)]
struct FragmentWeight;

impl quick_cache::Weighter<FragmentKey, Arc<Fragment>> for FragmentWeight {
    fn weight(&self, key: &FragmentKey, f: &Arc<Fragment>) -> u64 {
        let key_len = match key {
            FragmentKey::Item { .. } => 0,
            FragmentKey::Detail(k) => k.len(),
        };
        (key_len + f.bytes.len() + 16 * f.signature.tag_ids.len() + FRAGMENT_OVERHEAD) as u64
    }
}

pub struct PublicCache {
    entries: RwLock<Store>,
    /// Per-post fragments, within their half of the byte budget.
    fragments: quick_cache::sync::Cache<FragmentKey, Arc<Fragment>, FragmentWeight>,
    /// Moves when a category, author or tag may have changed: fragments of
    /// an older one are not served.
    terms: AtomicU64,
    /// Of the last list pages, the share of their posts (in thousandths)
    /// whose fragment was current: an estimate of what probing first would
    /// save (see [`PublicCache::list_read`]).
    list_hits: AtomicU64,
    /// Fragments read while the store was full, for
    /// [`PublicCache::admit_fragment`].
    admissions: AtomicU64,
    /// List pages read while the store was full and held few of their
    /// posts, for [`PublicCache::list_read`].
    list_samples: AtomicU64,
    /// Fragments found current and served, and looked for in vain (missing
    /// or stale), since start.
    fragment_hits: AtomicU64,
    fragment_misses: AtomicU64,
    generation: AtomicU64,
    /// The next visibility change, computed once per generation.
    next_change: Mutex<Option<(u64, Option<Instant>)>>,
    ttl: Duration,
    max_entries: usize,
    /// Bytes the whole answers may hold in all (bodies, keys and
    /// bookkeeping): half the budget. One entry may take at most a
    /// sixteenth of it.
    max_bytes: usize,
    /// Public totals per filter.
    counts: Mutex<HashMap<String, CountEntry>>,
    /// Keys being computed after a miss, so concurrent misses of one key
    /// wait for that one read instead of all reading the database (a cold
    /// cache under load would otherwise send every request to PostgreSQL).
    filling: Mutex<HashMap<String, Arc<Filling>>>,
    /// The URLs that missed lately, one per slot by their hash: the upper
    /// 32 bits of the hash, then the millisecond (since `started`, modulo
    /// 2^32) of the miss. Two URLs sharing a slot push each other out: one
    /// of them is kept an ask later than it could have been.
    asked: Box<[AtomicU64]>,
    started: Instant,
    /// Answers served from the cache, computed and kept, computed and not
    /// kept (asked once in its TTL, or no room), since start.
    answers_served: AtomicU64,
    answers_kept: AtomicU64,
    answers_passed: AtomicU64,
    /// When a full cache was last swept: at most one sweep per
    /// [`SWEEP_EVERY`] (or TTL, if shorter), or every miss on a full cache would scan it all
    /// under the write lock.
    last_sweep: Mutex<Option<Instant>>,
}

const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Adds one to `yes` or to `no`.
fn bump(which: bool, yes: &AtomicU64, no: &AtomicU64) {
    if which { yes } else { no }.fetch_add(1, Ordering::Relaxed);
}

/// Counts one more and says whether it is the first of a run of `n`: true
/// once in every `n` calls.
fn one_in(counter: &AtomicU64, n: u64) -> bool {
    counter.fetch_add(1, Ordering::Relaxed).is_multiple_of(n)
}

/// Slots of [`PublicCache::asked_recently`]'s table (8 bytes each): room
/// for the distinct URLs that miss within a TTL under heavy load.
const ASKED_SLOTS: usize = 1 << 14;

/// The share of list posts (in thousandths) with a current fragment from
/// which pages are probed first.
const PROBE_FROM_HITS: u64 = 600;

/// Of the fragments read while the store is full, one in this many is kept
/// (see [`PublicCache::admit_fragment`]).
const ADMIT_ONE_IN: u64 = 8;

/// Of the list pages read while the store is full and holds few of their
/// posts, one in this many uses the fragments (see
/// [`PublicCache::list_read`]).
const SAMPLE_LISTS_ONE_IN: u64 = 8;

/// How a list page that missed as a whole is read (see
/// [`PublicCache::list_read`]). `full`: whether the fragments fill their
/// budget, for [`PublicCache::admit_fragment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRead {
    /// Read whole and serialised; the fragments are not used.
    Plain,
    /// Read whole; posts held are copied from their fragments, the others
    /// serialised and kept.
    Whole { full: bool },
    /// Probed first; then only the posts not held are read.
    Probe { full: bool },
}

impl PublicCache {
    /// `budget` bytes in all: half for whole answers, half for fragments.
    pub fn new(ttl: Duration, max_entries: usize, budget: usize) -> Self {
        let max_bytes = budget / 2;
        let fragment_bytes = budget - max_bytes;
        Self {
            entries: RwLock::new(Store::default()),
            // quick_cache sizes its table from the estimate; a fragment is a
            // few KB.
            fragments: quick_cache::sync::Cache::with_weighter(
                (fragment_bytes / 2048).max(16),
                fragment_bytes as u64,
                FragmentWeight,
            ),
            terms: AtomicU64::new(0),
            list_hits: AtomicU64::new(0),
            admissions: AtomicU64::new(0),
            list_samples: AtomicU64::new(0),
            fragment_hits: AtomicU64::new(0),
            fragment_misses: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            next_change: Mutex::new(None),
            ttl,
            max_entries,
            max_bytes,
            last_sweep: Mutex::new(None),
            filling: Mutex::new(HashMap::new()),
            asked: (0..ASKED_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            started: Instant::now(),
            answers_served: AtomicU64::new(0),
            answers_kept: AtomicU64::new(0),
            answers_passed: AtomicU64::new(0),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `key` missed and says whether it had missed before within
    /// the TTL: whether keeping the earlier answer would have served this
    /// one. The rule that decides which whole answers are kept (see the
    /// module's documentation).
    pub fn asked_recently(&self, key: &str) -> bool {
        let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        let slot = &self.asked[(hash as usize) & (ASKED_SLOTS - 1)];
        let tag = hash >> 32;
        // Milliseconds modulo 2^32 (49 days); compared with wrapping.
        let now = self.started.elapsed().as_millis() as u32;
        let before = slot.swap(tag << 32 | u64::from(now), Ordering::Relaxed);
        let ttl_ms = u32::try_from(self.ttl.as_millis()).unwrap_or(u32::MAX);
        before != 0 && before >> 32 == tag && now.wrapping_sub(before as u32) <= ttl_ms
    }

    /// Counts an answer served from the cache.
    pub fn count_served(&self) {
        self.answers_served.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer computed, and whether [`put`](Self::put) kept it.
    pub fn count_computed(&self, kept: bool) {
        bump(kept, &self.answers_kept, &self.answers_passed);
    }

    /// Answers served from the cache, computed and kept, and computed and
    /// not kept, since start.
    pub fn answer_counts(&self) -> (u64, u64, u64) {
        (
            self.answers_served.load(Ordering::Relaxed),
            self.answers_kept.load(Ordering::Relaxed),
            self.answers_passed.load(Ordering::Relaxed),
        )
    }

    /// The public total of a filter counted in this generation, if it is
    /// still valid (no scheduled post has become visible since).
    pub fn count(&self, key: &str, generation: u64) -> Option<i64> {
        if !self.enabled() {
            return None;
        }
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let &(g, total, until) = counts.get(key)?;
        (g == generation
            && generation == self.generation()
            && until.is_none_or(|t| t > Instant::now()))
        .then_some(total)
    }

    /// Keeps a total counted under `generation`, valid until the next known
    /// visibility change; not kept while that moment is unknown.
    pub fn put_count(&self, key: String, generation: u64, total: i64) {
        if !self.enabled() || generation != self.generation() {
            return;
        }
        let Some(until) = self.next_change(generation) else {
            return;
        };
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= self.max_entries && !counts.contains_key(&key) {
            counts.clear();
        }
        counts.insert(key, (generation, total, until));
    }

    /// After a miss: either this caller fills `key` (drop the guard when
    /// done, stored or not) or another caller already is, and this returns
    /// when it finishes (or after `wait_at_most`); then look again.
    pub async fn fill_or_wait(&self, key: &str, wait_at_most: Duration) -> Option<FillGuard<'_>> {
        let waiting = {
            let mut filling = self.filling.lock().unwrap_or_else(|p| p.into_inner());
            match filling.get(key) {
                Some(f) => {
                    f.wanted.store(true, Ordering::Release);
                    // Registered before the lock is released, so the filler's
                    // notify_waiters cannot be missed.
                    let mut fut = Box::pin(Arc::clone(&f.done).notified_owned());
                    fut.as_mut().enable();
                    fut
                }
                None => {
                    let f = Arc::new(Filling::default());
                    filling.insert(key.to_owned(), Arc::clone(&f));
                    return Some(FillGuard {
                        cache: self,
                        key: key.to_owned(),
                        filling: f,
                    });
                }
            }
        };
        let _ = tokio::time::timeout(wait_at_most, waiting).await;
        None
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0 && self.max_bytes > 0
    }

    /// Bytes held now: whole answers and fragments.
    pub fn bytes(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).bytes
            + usize::try_from(self.fragments.weight()).unwrap_or(usize::MAX)
    }

    /// Whole answers held now.
    pub fn entry_count(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// Per-post fragments held now.
    pub fn fragment_count(&self) -> usize {
        self.fragments.len()
    }

    /// The terms generation to pass to [`put_fragment`](Self::put_fragment);
    /// read it before reading the database.
    pub fn terms(&self) -> u64 {
        self.terms.load(Ordering::Acquire)
    }

    /// The fragment kept under `key`, if it was read under the current
    /// terms; whether it is current for its post is for the caller's probe
    /// to say.
    pub fn fragment(&self, key: &FragmentKey) -> Option<Arc<Fragment>> {
        if !self.enabled() {
            return None;
        }
        self.fragments.get(key).filter(|f| f.terms == self.terms())
    }

    /// The bytes under `key` if they were made from this very signature.
    pub fn current(&self, key: &FragmentKey, signature: &Signature) -> Option<Bytes> {
        let held = self
            .fragment(key)
            .filter(|f| f.signature == *signature)
            .map(|f| f.bytes.clone());
        self.count_fragment(held.is_some());
        held
    }

    /// Counts a fragment served (`true`) or looked for in vain.
    pub fn count_fragment(&self, served: bool) {
        bump(served, &self.fragment_hits, &self.fragment_misses);
    }

    /// Fragments served and looked for in vain since start.
    pub fn fragment_counts(&self) -> (u64, u64) {
        (
            self.fragment_hits.load(Ordering::Relaxed),
            self.fragment_misses.load(Ordering::Relaxed),
        )
    }

    /// Keeps a post's representation read under `terms`.
    pub fn put_fragment(
        &self,
        key: FragmentKey,
        id: Uuid,
        signature: Signature,
        terms: u64,
        bytes: Bytes,
    ) {
        if !self.enabled() || terms != self.terms() {
            return;
        }
        self.fragments.insert(
            key,
            Arc::new(Fragment {
                id,
                signature,
                terms,
                bytes,
            }),
        );
    }

    /// Whether the fragments fill their budget, so that keeping another
    /// evicts one. Asked once per answer and passed to
    /// [`admit_fragment`](Self::admit_fragment).
    pub fn fragments_full(&self) -> bool {
        let capacity = self.fragments.capacity();
        self.fragments.weight() >= capacity - capacity / 16
    }

    /// Whether to keep a fragment just read (the admission rule): always
    /// while the fragments have room; once they are `full`, one in
    /// `ADMIT_ONE_IN` (eight). Keeping a fragment in a full store costs a copy and
    /// an eviction and, when the posts asked for are many more than the
    /// budget holds (random pages or slugs over the whole data set), it buys
    /// nothing: the share held is the budget's share of the posts whichever
    /// are kept. A post asked for again and again is still kept after a
    /// few asks.
    pub fn admit_fragment(&self, full: bool) -> bool {
        !full || one_in(&self.admissions, ADMIT_ONE_IN)
    }

    /// Notes that `hits` of a list page's `of` posts had a current fragment.
    pub fn record_list_hits(&self, hits: usize, of: usize) {
        if of == 0 {
            return;
        }
        let share = (hits * 1000 / of) as u64;
        // A moving average over about the last eight pages.
        let _ = self
            .list_hits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                Some((old * 7 + share) / 8)
            });
    }

    /// How a list page that missed as a whole is read: the rule for lists.
    ///
    /// Probing first (ids and signatures, then only the posts without a
    /// current fragment: two round trips, little read) pays when most of a
    /// page's posts are held. Otherwise the page is read whole (one round
    /// trip), and looking its posts up and keeping them pays only while the
    /// store fills: once it is full, a post held saves its serialisation
    /// (about 2 µs) while looking up and keeping the others costs more than
    /// that saves when few are held (random pages over a data set many times
    /// the budget: 15 % held at 10,000 posts, less at a million). Then only
    /// one page in `SAMPLE_LISTS_ONE_IN` (eight) uses the fragments, which keeps
    /// the share held measured and the store turning over.
    pub fn list_read(&self) -> ListRead {
        if !self.enabled() {
            return ListRead::Plain;
        }
        let full = self.fragments_full();
        if self.list_hits.load(Ordering::Acquire) >= PROBE_FROM_HITS {
            ListRead::Probe { full }
        } else if !full || one_in(&self.list_samples, SAMPLE_LISTS_ONE_IN) {
            ListRead::Whole { full }
        } else {
            ListRead::Plain
        }
    }

    /// The generation to pass to [`put`](Self::put); read it before reading
    /// the database, so a change during the read makes the entry stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Lookup {
        if !self.enabled() {
            return Lookup::Miss;
        }
        let now = Instant::now();
        let generation = self.generation();
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let Some(e) = entries.map.get(key) else {
            return Lookup::Miss;
        };
        if e.generation != generation || e.hard_limit.is_some_and(|l| l <= now) {
            return Lookup::Miss;
        }
        if e.fresh_until > now {
            return Lookup::Hit(e.body.clone(), e.etag.clone());
        }
        if e.refreshing.swap(true, Ordering::AcqRel) {
            // Someone else is refreshing it: keep serving this copy.
            Lookup::Hit(e.body.clone(), e.etag.clone())
        } else {
            Lookup::Stale(e.body.clone(), e.etag.clone())
        }
    }

    /// The cached next visibility change for this generation, if known.
    pub fn next_change(&self, generation: u64) -> Option<Option<Instant>> {
        let known = *self.next_change.lock().unwrap_or_else(|p| p.into_inner());
        match known {
            Some((g, at)) if g == generation && at.is_none_or(|t| t > Instant::now()) => Some(at),
            _ => None,
        }
    }

    pub fn set_next_change(&self, generation: u64, at: Option<Instant>) {
        *self.next_change.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, at));
    }

    /// Stores a body read under `generation`, never to be served after
    /// `hard_limit`, and says whether it was kept (not when it was read
    /// before a change, is over a sixteenth of the budget, or the cache is
    /// full of live entries).
    pub fn put(
        &self,
        key: String,
        body: Bytes,
        etag: String,
        generation: u64,
        hard_limit: Option<Instant>,
    ) -> bool {
        if !self.enabled() || generation != self.generation() {
            return false;
        }
        let size = key.len() + body.len() + etag.len() + ENTRY_OVERHEAD;
        if size > self.max_bytes / 16 {
            // A huge answer (say a thousand-post page) would push out many
            // small ones: serve it, do not keep it.
            return false;
        }
        let now = Instant::now();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let full = |s: &Store| match s.map.get(&key) {
            Some(old) => s.bytes - old.size + size > self.max_bytes,
            None => s.map.len() >= self.max_entries || s.bytes + size > self.max_bytes,
        };
        if full(&entries) {
            {
                let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
                if last.is_some_and(|at| now.duration_since(at) < self.ttl.min(SWEEP_EVERY)) {
                    return false;
                }
                *last = Some(now);
            }
            let current = self.generation();
            entries.retain(|e| {
                e.generation == current
                    && e.hard_limit.is_none_or(|l| l > now)
                    && e.fresh_until + self.ttl > now
            });
            if full(&entries) {
                // Full of live entries: keep them rather than churn.
                return false;
            }
        }
        entries.insert(
            key,
            Cached {
                body,
                etag,
                generation,
                fresh_until: now + self.ttl,
                hard_limit,
                refreshing: Arc::new(AtomicBool::new(false)),
                size,
            },
        );
        true
    }

    /// A CMS table changed (a `presswork_cms` notification names it). A
    /// post's own row or tags are covered by its fragments' signatures, so
    /// only whole answers go; anything else (a category, author or tag) ends
    /// the fragments too.
    pub fn table_changed(&self, table: &str) {
        if matches!(table, "posts" | "post_tags") {
            self.invalidate();
        } else {
            self.invalidate_terms();
        }
    }

    /// A category, author or tag may have changed (or changes may have been
    /// missed): fragments, which carry their names, go too.
    pub fn invalidate_terms(&self) {
        self.terms.fetch_add(1, Ordering::AcqRel);
        self.fragments.clear();
        self.invalidate();
    }

    /// Content changed: every whole answer is stale from now on (fragments
    /// are checked against their posts' signatures when used).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(l: Lookup) -> Option<(String, bool)> {
        match l {
            Lookup::Hit(b, _) => Some((String::from_utf8(b.to_vec()).unwrap(), false)),
            Lookup::Stale(b, _) => Some((String::from_utf8(b.to_vec()).unwrap(), true)),
            Lookup::Miss => None,
        }
    }

    #[test]
    fn generations_expiry_refresh_and_limits() {
        let c = PublicCache::new(Duration::from_millis(100), 2, 1 << 20);
        let g = c.generation();
        c.put("a".into(), Bytes::from_static(b"1"), "e".into(), g, None);
        assert_eq!(body(c.get("a")), Some(("1".into(), false)));
        c.invalidate();
        assert!(body(c.get("a")).is_none());
        // A read that started before a change is not stored.
        c.put("a".into(), Bytes::from_static(b"old"), "e".into(), g, None);
        assert!(body(c.get("a")).is_none());
        let g = c.generation();
        c.put(
            "b".into(),
            Bytes::from_static(b"2"),
            "e".into(),
            g,
            Some(Instant::now()),
        );
        assert!(
            body(c.get("b")).is_none(),
            "never served past its hard limit"
        );
        c.put("c".into(), Bytes::from_static(b"3"), "e".into(), g, None);
        std::thread::sleep(Duration::from_millis(120));
        // Past its TTL: one caller refreshes, the others are served the copy.
        assert_eq!(body(c.get("c")), Some(("3".into(), true)));
        assert_eq!(body(c.get("c")), Some(("3".into(), false)));
        assert!(!PublicCache::new(Duration::ZERO, 10, 1 << 20).enabled());
        assert!(!PublicCache::new(Duration::from_secs(1), 10, 0).enabled());
        // Next visibility change is remembered per generation.
        c.set_next_change(g, None);
        assert_eq!(c.next_change(g), Some(None));
        c.invalidate();
        assert_eq!(c.next_change(c.generation()), None);
    }

    #[test]
    fn totals_last_for_their_generation_until_the_next_visibility_change() {
        let c = PublicCache::new(Duration::from_millis(50), 10, 1 << 20);
        let g = c.generation();
        // The next visibility change is not known yet: nothing is kept.
        c.put_count("f".into(), g, 7);
        assert_eq!(c.count("f", g), None);
        c.set_next_change(g, None);
        c.put_count("f".into(), g, 7);
        // Totals outlive the pages' TTL: only a change ends them.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(c.count("f", g), Some(7));
        c.invalidate();
        assert_eq!(c.count("f", c.generation()), None);
        // A scheduled post becoming visible ends them too.
        let g = c.generation();
        c.set_next_change(g, Some(Instant::now() + Duration::from_millis(60)));
        c.put_count("f".into(), g, 8);
        assert_eq!(c.count("f", g), Some(8));
        std::thread::sleep(Duration::from_millis(80));
        c.set_next_change(g, None);
        assert_eq!(c.count("f", g), None, "counted before the publication");
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_wait_for_a_single_fill() {
        let c = Arc::new(PublicCache::new(Duration::from_secs(10), 10, 1 << 20));
        let guard = c.fill_or_wait("k", Duration::from_secs(5)).await;
        assert!(guard.is_some(), "the first miss fills");
        assert!(
            !guard.as_ref().is_some_and(FillGuard::wanted),
            "alone so far"
        );
        let waiter = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let started = Instant::now();
                let again = c.fill_or_wait("k", Duration::from_secs(5)).await;
                (again.is_none(), started.elapsed(), body(c.get("k")))
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "the second miss waits for the first");
        assert!(
            guard.as_ref().is_some_and(FillGuard::wanted),
            "the filler knows another request wants the key"
        );
        let g = c.generation();
        c.put("k".into(), Bytes::from_static(b"v"), "e".into(), g, None);
        drop(guard);
        let (waited, elapsed, seen) = waiter.await.unwrap();
        assert!(
            waited && elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(5)
        );
        assert_eq!(
            seen,
            Some(("v".into(), false)),
            "then finds the filled entry"
        );
        // A filler that gives up (error, cancelled request) frees the key.
        assert!(
            c.fill_or_wait("other", Duration::from_secs(1))
                .await
                .is_some()
        );
        assert!(
            c.fill_or_wait("other", Duration::from_secs(1))
                .await
                .is_some()
        );
    }

    #[test]
    fn a_url_is_asked_for_recently_from_its_second_ask_within_the_ttl() {
        let c = PublicCache::new(Duration::from_millis(100), 10, 1 << 20);
        assert!(!c.asked_recently("/api/posts?a"));
        assert!(!c.asked_recently("/api/posts?b"));
        assert!(c.asked_recently("/api/posts?a"));
        assert!(c.asked_recently("/api/posts?b"));
        std::thread::sleep(Duration::from_millis(150));
        assert!(!c.asked_recently("/api/posts?a"), "past the TTL");
        assert!(c.asked_recently("/api/posts?a"));
        // Whether an answer was kept is put's to say, and counted.
        let g = c.generation();
        assert!(c.put("k".into(), Bytes::from_static(b"1"), "e".into(), g, None));
        let stale = c.put(
            "k".into(),
            Bytes::from_static(b"1"),
            "e".into(),
            g + 1,
            None,
        );
        assert!(!stale, "read under another generation: not kept");
        c.count_computed(true);
        c.count_computed(false);
        c.count_served();
        assert_eq!(c.answer_counts(), (1, 1, 1));
    }

    #[test]
    fn a_full_cache_keeps_live_entries_and_sweeps_dead_ones_now_and_then() {
        let c = PublicCache::new(Duration::from_millis(50), 2, 1 << 20);
        let g = c.generation();
        c.put("a".into(), Bytes::from_static(b"1"), "e".into(), g, None);
        c.put("b".into(), Bytes::from_static(b"2"), "e".into(), g, None);
        c.put("c".into(), Bytes::from_static(b"3"), "e".into(), g, None);
        assert!(body(c.get("c")).is_none(), "full of live entries");
        assert!(body(c.get("a")).is_some());
        // Right after a sweep that found nothing, no new sweep is tried.
        c.put("d".into(), Bytes::from_static(b"4"), "e".into(), g, None);
        assert!(body(c.get("d")).is_none());
        // Once a and b are dead (2 × TTL), the next sweep makes room.
        std::thread::sleep(Duration::from_millis(110));
        c.put("c".into(), Bytes::from_static(b"3"), "e".into(), g, None);
        assert_eq!(body(c.get("c")), Some(("3".into(), false)));
        assert!(body(c.get("a")).is_none());
    }

    #[test]
    fn the_byte_budget_bounds_what_is_kept() {
        // Room for twenty 1 KB answers; the entry limit alone would allow 100.
        let one = 1024 + 3 + 1 + ENTRY_OVERHEAD;
        let budget = 20 * one + 10;
        // Half the budget is for whole answers.
        let c = PublicCache::new(Duration::from_millis(50), 100, 2 * budget);
        let g = c.generation();
        let kb = Bytes::from(vec![b'x'; 1024]);
        for i in 0..25 {
            c.put(format!("k{i:02}"), kb.clone(), "e".into(), g, None);
        }
        assert!(body(c.get("k19")).is_some());
        assert!(body(c.get("k20")).is_none(), "over the budget: not kept");
        assert_eq!(c.bytes(), 20 * one);
        // Replacing an entry counts its size once.
        c.put("k01".into(), kb.clone(), "e".into(), g, None);
        assert_eq!(c.bytes(), 20 * one);
        // One answer over a sixteenth of the budget is never kept.
        let big = PublicCache::new(Duration::from_secs(1), 100, 16 * 1024);
        let bg = big.generation();
        big.put(
            "big".into(),
            Bytes::from(vec![b'x'; 1100]),
            "e".into(),
            bg,
            None,
        );
        assert!(body(big.get("big")).is_none());
        big.put(
            "small".into(),
            Bytes::from(vec![b'x'; 100]),
            "e".into(),
            bg,
            None,
        );
        assert!(body(big.get("small")).is_some());
        // Dead entries (2 × TTL) are swept to make room; a change empties it all.
        std::thread::sleep(Duration::from_millis(110));
        c.put("k24".into(), kb, "e".into(), g, None);
        assert!(body(c.get("k24")).is_some());
        assert_eq!(c.bytes(), one);
        c.invalidate();
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn a_full_fragment_store_keeps_one_read_in_eight_and_samples_lists_until_most_are_held() {
        let c = PublicCache::new(Duration::from_secs(2), 100, 64 * 1024);
        let signature = Signature {
            updated_at: chrono::Utc::now(),
            tag_ids: Vec::new(),
        };
        // While there is room, every page uses the fragments and every one
        // read is kept.
        assert_eq!(c.list_read(), ListRead::Whole { full: false });
        assert!((0..20).all(|_| c.admit_fragment(false)));
        let mut kept = 0;
        while !c.fragments_full() {
            let id = Uuid::new_v4();
            c.put_fragment(
                FragmentKey::Item { id, summary: true },
                id,
                signature.clone(),
                c.terms(),
                Bytes::from(vec![b'x'; 100]),
            );
            kept += 1;
            assert!(kept < 10_000, "the store never filled");
        }
        // Full: one read in eight is kept.
        assert_eq!((0..80).filter(|_| c.admit_fragment(true)).count(), 10);
        // Full and few posts held: one page in eight looks its posts up.
        let reads: Vec<ListRead> = (0..16).map(|_| c.list_read()).collect();
        let whole = reads
            .iter()
            .filter(|r| **r == ListRead::Whole { full: true })
            .count();
        assert_eq!(whole, 2, "{reads:?}");
        assert_eq!(reads.iter().filter(|r| **r == ListRead::Plain).count(), 14);
        // Most posts held: every page is probed.
        for _ in 0..40 {
            c.record_list_hits(20, 20);
        }
        assert_eq!(c.list_read(), ListRead::Probe { full: true });
        // A cache turned off uses no fragments.
        let off = PublicCache::new(Duration::ZERO, 100, 64 * 1024);
        assert_eq!(off.list_read(), ListRead::Plain);
    }
}
