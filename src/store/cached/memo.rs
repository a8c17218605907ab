//! Memos: values made from what the cache holds (an HTTP answer rendered
//! from a todo, say), kept in the same cache and budget as the entries
//! they were made from, and valid while what those entries hold is current
//! (even after an entry itself was evicted).
//!
//! While a memo is being made ([`CachedTable::recording`]), every read
//! through the cache notes the write counters of what it read
//! ([`super::versions`]): the item's key, or the page's partition. A memo
//! is found again ([`CachedTable::recall`]) only while none of those
//! counters has moved and everything it was made from is fresh. A write
//! through this instance moves the counters of the item it writes and of
//! the partitions it touches, before it is sent and again once its outcome
//! is in the cache, so it retires exactly the memos made from what it
//! changed (and, rarely, a few sharing a counter with it). A memo never
//! outlives the TTL of what it was made from. Work that reads around the
//! cache (a strong read) cannot be remembered.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use super::stored::ENTRY_OVERHEAD;
use super::versions::Seen;
use super::{CacheKey, Cached, CachedTable, Entry};

/// What is remembered: the caller's own type.
pub type Memo = Arc<dyn Any + Send + Sync>;

/// Where a memo will be kept, handed out by a missed [`CachedTable::recall`].
pub struct MemoKey(CacheKey);

/// What some work read: what a memo of it depends on.
pub struct Reads {
    seen: Vec<Seen>,
    /// When the stalest entry it read stops being fresh.
    fresh_until: Instant,
}

/// A memo and what it was made from.
pub(super) struct Remembered {
    value: Memo,
    seen: Vec<Seen>,
}

#[derive(Default)]
struct Recording {
    seen: Vec<Seen>,
    fresh_until: Option<Instant>,
    around_the_cache: bool,
}

tokio::task_local! {
    static RECORDING: RefCell<Recording>;
}

/// Notes that a read returned `entry`, guarded by counters `seen` before
/// it, if some work is being recorded.
pub(super) fn record(seen: &[Seen], entry: &Entry) {
    let _ = RECORDING.try_with(|recording| {
        let mut recording = recording.borrow_mut();
        recording.seen.extend_from_slice(seen);
        let stalest = recording
            .fresh_until
            .map_or(entry.fresh_until, |until| until.min(entry.fresh_until));
        recording.fresh_until = Some(stalest);
    });
}

/// Notes that a read went around the cache, if some work is being recorded.
pub(super) fn record_uncached() {
    let _ = RECORDING.try_with(|recording| recording.borrow_mut().around_the_cache = true);
}

impl CachedTable {
    /// Runs `work`, recording the entries its reads through this cache
    /// return; `None` when it read around the cache or read nothing.
    pub async fn recording<F: Future>(work: F) -> (F::Output, Option<Reads>) {
        let work = async {
            let output = work.await;
            (output, RECORDING.with(|recording| recording.take()))
        };
        let (output, recording) = RECORDING.scope(RefCell::default(), work).await;
        let reads = match recording.fresh_until {
            Some(fresh_until) if !recording.around_the_cache => Some(Reads {
                seen: recording.seen,
                fresh_until,
            }),
            _ => None,
        };
        (output, reads)
    }

    /// The memo kept under `key`, if everything it was made from is still
    /// current; else where to keep a new one.
    pub async fn recall(&self, key: String) -> Result<Memo, MemoKey> {
        let key = CacheKey::Memo(key);
        let core = &self.core;
        if core.enabled
            && let Some(found) = core.entries.get(&key).await
            && let Cached::Memo(memo) = &found.value
            && found.fresh_until > core.clock.now()
            && core.versions.unchanged(&memo.seen)
        {
            core.stats.memo_hits.inc();
            return Ok(memo.value.clone());
        }
        core.stats.memo_misses.inc();
        Err(MemoKey(key))
    }

    /// Keeps `value`, weighing `bytes` (the memo's own: its key and what it
    /// was made from are added here), for as long as `reads` are current.
    /// Nothing is kept if they are not current already (a write overtook
    /// the work).
    pub async fn remember(&self, key: MemoKey, value: Memo, bytes: usize, reads: Reads) {
        let core = &self.core;
        if !core.enabled {
            return;
        }
        if !core.versions.unchanged(&reads.seen) {
            return;
        }
        let bytes = bytes + key.0.heap_bytes() + ENTRY_OVERHEAD + size_of::<Remembered>();
        let bytes = bytes + size_of_val(reads.seen.as_slice());
        let entry = Entry {
            value: Cached::Memo(Arc::new(Remembered {
                value,
                seen: reads.seen,
            })),
            fresh_until: reads.fresh_until,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        };
        core.entries.insert(key.0, entry).await;
    }
}
