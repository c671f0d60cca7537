//! Giving freed heap back to the operating system.
//!
//! Each account list decodes the whole account (10,000 records is several MiB of JSON and as
//! much again decoded) and then frees it. glibc's allocator keeps such freed memory in its
//! arenas, so the process's resident memory would stay at the height of the busiest moment
//! (a burst) long after. After a list, the free pages are handed back (at most every few
//! seconds): resident memory then follows what the caches really hold.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two trims (a trim walks the allocator's arenas: about a millisecond).
const MIN_INTERVAL: Duration = Duration::from_secs(5);

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// Returns free heap pages to the OS, unless that was done in the last `MIN_INTERVAL`.
pub fn release_free() {
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
