//! Giving the system back the memory the API has freed.
//!
//! glibc's allocator keeps what a thread freed in that thread's arena and
//! returns pages only from the top of its heap. The API's cold reads
//! allocate rows and answers of tens of kilobytes between the cache's
//! long-lived entries, so after a burst most of the freed memory stays
//! resident: on 10,000 posts, 64 MiB after the warm benchmark runs, of
//! which `malloc_trim(0)` gave back 14 (docs/PERFORMANCE.md). The API asks
//! for it back every [`TRIM_EVERY`].

use std::time::Duration;

/// How often the API gives freed memory back. A trim walks and locks each
/// arena in turn (about a millisecond for the API's heap), so not after
/// every request.
pub const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Asks the allocator to return the free pages of every arena to the
/// system; whether any came back. Elsewhere than glibc it does nothing and
/// answers false: musl's and other allocators return memory themselves or
/// have no such call.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "malloc_trim is glibc's; libc declares every FFI call unsafe"
)]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointer and has no precondition; glibc
    // takes each arena's lock while it works on it.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

/// Trims every [`TRIM_EVERY`] for as long as the runtime runs.
pub fn spawn_trimmer() {
    tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // Off the async threads: a trim holds arena locks.
            let released = tokio::task::spawn_blocking(release_free_memory).await;
            tracing::trace!(?released, "allocator trimmed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_anon_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }

    /// Freed blocks held between live ones stay resident until trimmed;
    /// a trim gives them back. (nextest runs each test in its own process.)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_gives_back_what_was_freed_between_live_blocks() {
        // 64 MiB in blocks of 16 KiB (below the mmap threshold, so from the
        // heap), every eighth kept alive.
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 16 << 10]).collect();
        let mut kept = Vec::new();
        for (i, b) in blocks.drain(..).enumerate() {
            if i % 8 == 0 {
                kept.push(b);
            }
        }
        let before = rss_anon_kib();
        assert!(release_free_memory(), "nothing given back");
        let after = rss_anon_kib();
        assert!(
            after + 32 * 1024 < before,
            "RssAnon {before} KiB -> {after} KiB"
        );
        assert_eq!(kept.len(), 512);
        assert!(kept.iter().enumerate().all(|(i, b)| b[0] == (i * 8) as u8));
    }
}
