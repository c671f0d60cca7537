//! Giving freed heap back to the operating system.
//!
//! Each account list decodes the whole account (10,000 records is several MiB of JSON and as
//! much again decoded) and then frees it. glibc's allocator keeps such freed memory in its
//! arenas, so the process's resident memory would stay at the height of the busiest moment
//! (a burst) long after. After a list, the free pages are handed back (at most every few
//! seconds): resident memory then follows what the caches really hold.
//!
//! The operator binary uses jemalloc instead (less fragmentation with many small cached
//! objects; BENCHMARKS.md, M6), whose background threads return freed pages by themselves; it
//! calls [`allocator_returns_memory`] and the trim is skipped. The trim remains for the
//! operator run in-process (tests) and any other binary on glibc.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Least time between two trims (a trim walks the allocator's arenas: about a millisecond).
const MIN_INTERVAL: Duration = Duration::from_secs(5);

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// Set when the process's allocator returns freed pages by itself.
static SELF_RETURNING: AtomicBool = AtomicBool::new(false);

/// The global allocator returns freed memory to the OS by itself (the operator binary's jemalloc
/// with background threads): [`release_free`] does nothing.
pub fn allocator_returns_memory() {
    SELF_RETURNING.store(true, Ordering::Relaxed);
}

/// Returns free heap pages to the OS, unless that was done in the last `MIN_INTERVAL` or the
/// allocator does it by itself.
pub fn release_free() {
    if SELF_RETURNING.load(Ordering::Relaxed) {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|t| t.elapsed() < MIN_INTERVAL) {
        return;
    }
    *last = Some(Instant::now());
    drop(last);
    trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim takes no pointers, is thread-safe, and only releases pages glibc's
    // allocator holds free; it cannot invalidate any allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
