//! The process's memory allocator, and the one moment we tell it to let go.
//!
//! mimalloc: the request path allocates many small, short-lived buffers
//! (headers, JSON), where it is measurably cheaper than glibc's malloc. The
//! binary installs [`Allocator`] as its global allocator; the thumbnail
//! benchmark does too, so it measures what the service runs.
//!
//! A photo decodes into one buffer of tens of megabytes. mimalloc keeps
//! freed memory for reuse, so after a few uploads the process held about
//! 140 MiB, and 75 MiB once idle (from 25 MiB at start). [`release_unused`]
//! after each image brings that to about 50 MiB.
//!
//! Built without transparent huge pages (`no_thp`): mimalloc otherwise asks
//! the kernel for 2 MiB pages on its arena (`MADV_HUGEPAGE`), so the first
//! byte touched in each 2 MiB makes all of it resident. An idle process
//! held 12 MiB of huge pages for 3 MiB of live heap: 26 MiB resident
//! instead of 15.5 MiB.

/// The global allocator of the binary.
pub type Allocator = mimalloc::MiMalloc;

/// Hands the memory this thread freed back to the operating system now,
/// instead of keeping it for reuse. Costs a few page faults next time, so
/// call it only after a burst of large allocations.
pub fn release_unused() {
    // SAFETY: mi_collect has no preconditions: it frees only pages that hold
    // no live allocation, and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// `mi_option_purge_delay` (15 in mimalloc.h, v2 and v3), which the Rust
/// bindings do not name: the option just before `mi_option_use_numa_nodes`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Makes mimalloc hand pages that no longer hold anything back to the
/// operating system as they empty, instead of 10 ms later. Under the
/// workload benchmark the delay kept about 40 MB of emptied pages resident
/// (the process with its cache off: 112 MB after the run, 73 MB without
/// the delay), and the cached-read benchmark ran no slower without it.
pub fn release_empty_pages_at_once() {
    // SAFETY: mi_option_set only stores the option's value; mimalloc reads
    // it on its next purge decision. Safe from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}
