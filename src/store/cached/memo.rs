//! Memos: values made from what the cache holds (an HTTP answer rendered
//! from a todo, say), kept beside the entries they were made from and
//! valid exactly as long as those entries are.
//!
//! While a memo is being made ([`CachedTable::recording`]), every read
//! through the cache records the entry it returned: its key and serial.
//! A memo is found again ([`CachedTable::recall`]) only if each of those
//! keys still holds the same fresh entry (and, for a page, under its
//! partition's current generation). A write through this instance replaces
//! the entry of the item it writes and moves the partitions it touches to
//! new generations, so it retires exactly the memos made from what it
//! changed, before and after it is sent, as it does for the entries. A memo
//! never outlives the TTL of what it was made from. Work that reads around
//! the cache (a strong read) cannot be remembered.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::stored::ENTRY_OVERHEAD;
use super::{CacheKey, Cached, CachedTable, Core, Entry};

/// What is remembered: the caller's own type.
pub type Memo = Arc<dyn Any + Send + Sync>;

/// Where a memo will be kept, handed out by a missed [`CachedTable::recall`].
pub struct MemoKey(CacheKey);

/// The cache entries some work read: what a memo of it depends on.
pub struct Reads(Vec<EntryRead>);

/// One entry a read returned.
#[derive(Clone)]
struct EntryRead {
    key: CacheKey,
    serial: u64,
    fresh_until: Instant,
}

/// A memo and what it was made from.
pub(super) struct Remembered {
    value: Memo,
    reads: Vec<EntryRead>,
}

#[derive(Default)]
struct Recording {
    reads: Vec<EntryRead>,
    around_the_cache: bool,
}

tokio::task_local! {
    static RECORDING: RefCell<Recording>;
}

/// Notes that a read returned `entry`, if some work is being recorded.
pub(super) fn record(key: &CacheKey, entry: &Entry) {
    let _ = RECORDING.try_with(|recording| {
        recording.borrow_mut().reads.push(EntryRead {
            key: key.clone(),
            serial: entry.serial,
            fresh_until: entry.fresh_until,
        });
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
        let reads = (!recording.around_the_cache && !recording.reads.is_empty())
            .then_some(Reads(recording.reads));
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
            && core.all_current(&memo.reads).await
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
        let Some(fresh_until) = reads.0.iter().map(|read| read.fresh_until).min() else {
            return;
        };
        if !core.all_current(&reads.0).await {
            return;
        }
        let bytes = bytes + key.0.heap_bytes() + ENTRY_OVERHEAD + size_of::<Remembered>();
        let bytes = bytes + reads.0.iter().map(EntryRead::bytes).sum::<usize>();
        let entry = Entry {
            value: Cached::Memo(Arc::new(Remembered {
                value,
                reads: reads.0,
            })),
            fresh_until,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
            serial: core.next_serial.fetch_add(1, Ordering::Relaxed),
        };
        core.entries.insert(key.0, entry).await;
    }
}

impl EntryRead {
    fn bytes(&self) -> usize {
        size_of::<Self>() + self.key.heap_bytes()
    }
}

impl Core {
    async fn all_current(&self, reads: &[EntryRead]) -> bool {
        for read in reads {
            if !self.current(read).await {
                return false;
            }
        }
        true
    }

    /// Whether `read`'s key still holds the same fresh entry, found under
    /// its partition's current generation.
    async fn current(&self, read: &EntryRead) -> bool {
        if let CacheKey::Page(query, partition, index) = &read.key
            && self.generations_of(query) != (*partition, *index)
        {
            return false;
        }
        let now = self.clock.now();
        self.entries
            .get(&read.key)
            .await
            .is_some_and(|entry| entry.serial == read.serial && entry.fresh_until > now)
    }
}
