//! Memos: values made from what the cache holds (an HTTP answer rendered
//! from a todo, say), kept in a share of the cache's budget ([`Memos`]),
//! and valid while what they were made from is current (even after an
//! entry itself was evicted).
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
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;

use super::versions::Seen;
use super::{CachedTable, Entry};
use crate::bounded::{Bounded, Equivalent, Lifecycle, Weighter, bounded};

/// What is remembered: the caller's own type.
pub type Memo = Arc<dyn Any + Send + Sync>;

/// Whose memo of what: a caller (`""` when anonymous) and what they asked
/// for, borrowed, so that a hit allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoOf<'a> {
    pub caller: &'a str,
    pub what: &'a str,
}

/// A memo's key as kept, both parts in one allocation; handed out by a
/// missed [`CachedTable::recall`] as where to keep a new memo.
#[derive(Clone)]
pub struct MemoKey {
    text: Box<str>,
    caller_len: usize,
}

impl MemoKey {
    fn of(of: MemoOf<'_>) -> Self {
        let mut text = String::with_capacity(of.caller.len() + of.what.len());
        text.push_str(of.caller);
        text.push_str(of.what);
        Self {
            text: text.into_boxed_str(),
            caller_len: of.caller.len(),
        }
    }

    fn parts(&self) -> MemoOf<'_> {
        let (caller, what) = self.text.split_at(self.caller_len);
        MemoOf { caller, what }
    }
}

/// Hashed and compared as its parts, so a [`MemoOf`] finds it.
impl Hash for MemoKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for MemoKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for MemoKey {}

impl Equivalent<MemoKey> for MemoOf<'_> {
    fn equivalent(&self, key: &MemoKey) -> bool {
        *self == key.parts()
    }
}

/// What some work read: what a memo of it depends on.
pub struct Reads {
    seen: Vec<Seen>,
    /// When the stalest entry it read stops being fresh.
    fresh_until: Instant,
}

/// A memo and what it was made from.
pub(super) struct Remembered {
    value: Memo,
    seen: Box<[Seen]>,
    fresh_until: Instant,
    /// Its weight in the memos' budget.
    bytes: u64,
}

/// The memos, apart from the entries, in a cache bounded in bytes
/// ([`crate::bounded`]) whose bookkeeping is tens of bytes a memo where
/// moka's is about a kilobyte ([`super::stored::ENTRY_OVERHEAD`]), as much
/// again as a todo's answer. Kept beside the entries, each todo cost two
/// kilobyte-heavy entries and the workload's 50,000 todos did not fit the
/// default budget; and moka's asynchronous `get` was about 40% of a hit's
/// own work.
pub(super) type Memos = Bounded<MemoKey, Arc<Remembered>, ByBytes, CountEvictions>;

/// The share of the cache's budget that memos may hold: an answer saves
/// a render, an entry a backend read, so entries get the most.
pub(super) const MEMO_SHARE: u64 = 4;

/// What a memo costs beyond its value's own bytes and its key's text: the
/// cache's slot (its key, value and 21 bytes, in a table kept up to half
/// empty), the [`Remembered`] allocation, the allocator's rounding.
const MEMO_OVERHEAD: usize = 160;

pub(super) fn memos(max_bytes: u64, evictions: Counter) -> Memos {
    bounded(max_bytes, ByBytes, CountEvictions(evictions))
}

/// Weighs a memo by the bytes it holds.
#[derive(Clone)]
pub(super) struct ByBytes;

impl Weighter<MemoKey, Arc<Remembered>> for ByBytes {
    fn weight(&self, _: &MemoKey, memo: &Arc<Remembered>) -> u64 {
        memo.bytes
    }
}

/// Counts evicted memos with the evicted entries.
#[derive(Clone)]
pub(super) struct CountEvictions(Counter);

impl Lifecycle<MemoKey, Arc<Remembered>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _: MemoKey, _: Arc<Remembered>) {
        self.0.inc();
    }
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

    /// The memo kept for `of`, if everything it was made from is still
    /// current; else where to keep a new one. A hit is counted here; a miss
    /// by the caller ([`CachedTable::missed`]), once it knows the answer
    /// was one it keeps (a lookup may be made on a guess).
    pub fn recall(&self, of: MemoOf<'_>) -> Result<Memo, MemoKey> {
        let core = &self.core;
        if core.enabled
            && let Some(memo) = core.memos.get(&of)
        {
            if memo.fresh_until > core.clock.now() && core.versions.unchanged(&memo.seen) {
                core.stats.memo_hits.inc();
                return Ok(memo.value.clone());
            }
            // Never current again: its room is better spent (unless
            // another request has kept a new one meanwhile).
            core.memos.remove_if(&of, |kept| Arc::ptr_eq(kept, &memo));
        }
        Err(MemoKey::of(of))
    }

    /// Counts a missed [`CachedTable::recall`] of something kept.
    pub fn missed(&self) {
        self.core.stats.memo_misses.inc();
    }

    /// Keeps `value`, weighing `bytes` (the memo's own: its key and what it
    /// was made from are added here), for as long as `reads` are current.
    /// Nothing is kept if they are not current already (a write overtook
    /// the work).
    pub fn remember(&self, key: MemoKey, value: Memo, bytes: usize, reads: Reads) {
        let core = &self.core;
        if !core.enabled || !core.versions.unchanged(&reads.seen) {
            return;
        }
        let seen = reads.seen.into_boxed_slice();
        let bytes = bytes + key.text.len() + size_of_val(&*seen) + MEMO_OVERHEAD;
        let memo = Remembered {
            value,
            seen,
            fresh_until: reads.fresh_until,
            bytes: bytes as u64,
        };
        core.memos.insert(key, Arc::new(memo));
    }
}
