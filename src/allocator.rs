//! The process's memory allocator, and when we tell it to let go.
//!
//! mimalloc: the request path allocates many small, short-lived buffers
//! (headers, JSON), where it is measurably cheaper than glibc's malloc. The
//! binary installs [`Allocator`] as its global allocator; the thumbnail
//! benchmark does too, so it measures what the service runs.
//!
//! Built without transparent huge pages (`no_thp`): mimalloc otherwise asks
//! the kernel for 2 MiB pages on its arena (`MADV_HUGEPAGE`), so the first
//! byte touched in each 2 MiB makes all of it resident. An idle process
//! held 12 MiB of huge pages for 3 MiB of live heap: 26 MiB resident
//! instead of 15.5 MiB.
//!
//! Two needs pull apart. The request path wants emptied pages back with the
//! OS at once ([`release_empty_pages_at_once`]), or churn keeps tens of
//! megabytes resident. A photo decodes into one buffer of tens of
//! megabytes, and handing that back after each image made the next one
//! fault all of it in again, 4 KiB at a time: a third of the thumbnail
//! step's time. So a thread about to do such work holds freed pages
//! ([`hold_freed_pages`]) for as long as the work keeps coming, and lets go
//! of everything when it stops (`crate::large_work` decides when).

use std::ffi::c_long;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The global allocator of the binary.
pub type Allocator = mimalloc::MiMalloc;

/// The purge delay while freed pages are held, in milliseconds: mimalloc's
/// own default, under which an emptied page goes back to the OS a second
/// later unless it is reused first.
const HOLDING_DELAY_MS: c_long = 1000;

/// `mi_option_purge_delay` (15 in mimalloc.h, v2 and v3), which the Rust
/// bindings do not name: the option just before `mi_option_use_numa_nodes`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Makes mimalloc hand pages that no longer hold anything back to the
/// operating system as they empty, instead of a second later, whenever no
/// thread holds them. Under the workload benchmark the delay kept about
/// 40 MB of emptied pages resident (the process with its cache off: 112 MB
/// after the run, 73 MB without the delay), and the cached-read benchmark
/// ran no slower without it.
pub fn release_empty_pages_at_once() {
    let mut holders = lock();
    holders.resting_delay = 0;
    if holders.count == 0 {
        set_purge_delay(0);
    }
}

/// While one lives, emptied pages stay with the process for a second, for
/// reuse; dropping it hands back everything the dropping thread freed.
#[must_use = "freed pages are held only while this lives"]
pub struct HeldPages(());

/// Holds freed pages until the returned value is dropped, on the same
/// thread: dropping it releases that thread's pages.
pub fn hold_freed_pages() -> HeldPages {
    let mut holders = lock();
    if holders.count == 0 {
        set_purge_delay(HOLDING_DELAY_MS);
    }
    holders.count += 1;
    HeldPages(())
}

impl Drop for HeldPages {
    fn drop(&mut self) {
        let mut holders = lock();
        // SAFETY: mi_collect has no preconditions: it frees only pages that
        // hold no live allocation, and is safe to call from any thread at any
        // time. Forced, it frees this thread's emptied pages and purges every
        // arena of the process. It runs before the delay goes back to 0: with
        // a delay of 0 mimalloc skips purging, pages already waiting included.
        unsafe { libmimalloc_sys::mi_collect(true) }
        holders.count -= 1;
        if holders.count == 0 {
            set_purge_delay(holders.resting_delay);
        }
    }
}

/// How many threads hold freed pages, and the delay to restore after them.
struct Holders {
    count: usize,
    resting_delay: c_long,
}

static HOLDERS: Mutex<Holders> = Mutex::new(Holders {
    count: 0,
    // mimalloc's default, until `release_empty_pages_at_once`.
    resting_delay: HOLDING_DELAY_MS,
});

fn lock() -> MutexGuard<'static, Holders> {
    HOLDERS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_purge_delay(milliseconds: c_long) {
    // SAFETY: mi_option_set only stores the option's value; mimalloc reads
    // it on its next purge decision. Safe from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, milliseconds) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> c_long {
        // SAFETY: mi_option_get only reads the option's value.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn pages_are_held_until_the_last_holder_lets_go() {
        release_empty_pages_at_once();
        assert_eq!(purge_delay(), 0);
        let first = hold_freed_pages();
        let second = hold_freed_pages();
        assert_eq!(purge_delay(), HOLDING_DELAY_MS);
        drop(first);
        assert_eq!(purge_delay(), HOLDING_DELAY_MS, "one still holds");
        drop(second);
        assert_eq!(purge_delay(), 0, "released once none holds");
    }
}
