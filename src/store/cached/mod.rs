//! `CachedTable`: an in-process read cache in front of any [`Table`], standing
//! where DynamoDB Accelerator (DAX) stands, and doing a few things DAX doesn't.
//!
//! Like DAX:
//! - `get` results are cached, "not found" included, for a TTL (5 min default);
//! - query pages are cached by their full parameters;
//! - strongly consistent reads go straight to the table.
//!
//! Better than DAX:
//! - A write through this instance updates the item's entry *and* makes every
//!   cached query of the partitions it touched unreachable, so a user always
//!   reads their own writes here. (DAX leaves query results stale until TTL.)
//!   Other instances see a change within the TTL: that is the bound.
//! - Concurrent misses for one item make one backend read: misses run under
//!   moka's per-key compute lock, and the waiters find the fresh entry.
//! - A write through this instance brings the cached pages of its partition
//!   up to date instead of sending the next read to the table ([`pages`]).
//! - The budget is in bytes, not entries, and items are kept as their JSON
//!   ([`stored`]): four times as many fit as trees of maps would.
//! - Hits, misses (= backend reads), evictions and bytes are exported.
//!
//! A write is finished on a task of its own: once sent, it may land even if
//! the request that asked for it is abandoned (the client went away, the
//! request deadline passed), so the cache must still learn its outcome.
//! What the write touches is forgotten before it is sent and again when its
//! outcome is known, so no read after the answer (or after a lost answer)
//! finds what the cache held before.
//!
//! How queries are invalidated without scanning the cache: every partition has
//! a generation number, and a cached page is keyed by the generation it was
//! read under. A write moves the partition to a fresh generation, so older
//! pages can never be found again and age out. Generations come from one
//! counter that only grows, so a partition whose generation was itself evicted
//! gets a new, larger one: nothing stale can come back.
//!
//! Freshness is checked against the config's [`Clock`], which tests can move
//! forward; moka's own TTL only reclaims memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod memo;
mod pages;
mod reads;
mod settings;
mod stored;
mod versions;
mod writes;

pub use memo::{MemoKey, MemoOf};
pub use settings::{CacheConfig, CacheStats, Clock};

use stored::{StoredItem, StoredPage};
use versions::{Seen, Versions};

use async_trait::async_trait;
use foldhash::fast::RandomState;
use moka::ops::compute::Op;

use super::{Index, Key, Page, Query, Read, SharedItem, StoreError, Table, Write};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CacheKey {
    Item(Key),
    /// A query, with the generations it was read under (boxed: keys are
    /// held twice per entry, and most are items).
    Page(Box<Query>, u64, u64),
    /// A partition's recent writes (see [`pages`]).
    History(String),
}

#[derive(Clone)]
enum Cached {
    Item(Option<StoredItem>),
    Page(Arc<StoredPage>),
    History(Arc<pages::History>),
}

#[derive(Clone)]
struct Entry {
    value: Cached,
    fresh_until: Instant,
    bytes: u32,
}

/// A [`Table`] that remembers what it read.
pub struct CachedTable {
    core: Arc<Core>,
}

/// The cache itself, shared with the tasks that finish writes.
struct Core {
    inner: Arc<dyn Table>,
    entries: moka::future::Cache<CacheKey, Entry, RandomState>,
    /// Answers made from entries, in a share of the budget ([`memo`]).
    memos: memo::Memos,
    /// Partition (or whole-index) name → its current generation.
    generations: moka::sync::Cache<String, u64, RandomState>,
    next_generation: AtomicU64,
    /// Moved by every write, for checking memos ([`memo`]).
    versions: Versions,
    /// False when the budget is 0: reads and writes go straight through.
    enabled: bool,
    ttl: Duration,
    clock: Clock,
    stats: CacheStats,
}

impl CachedTable {
    pub fn new(inner: Arc<dyn Table>, config: &CacheConfig) -> Self {
        Self {
            core: Arc::new(Core::new(inner, config)),
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.core.stats
    }

    /// Estimated bytes held now.
    pub fn bytes(&self) -> u64 {
        self.core.entries.weighted_size() + self.core.memos.weight()
    }

    /// Runs moka's pending housekeeping (for exact figures in tests and metrics).
    pub async fn sync(&self) {
        self.core.entries.run_pending_tasks().await;
    }
}

impl Core {
    fn new(inner: Arc<dyn Table>, config: &CacheConfig) -> Self {
        let stats = CacheStats::default();
        let evictions = stats.evictions.clone();
        let memo_bytes = config.max_bytes / memo::MEMO_SHARE;
        let memos = memo::memos(memo_bytes, stats.evictions.clone());
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_bytes - memo_bytes)
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .weigher(|_, entry: &Entry| entry.bytes)
            .time_to_live(config.ttl)
            .eviction_listener(move |_, _, cause| {
                if cause.was_evicted() {
                    evictions.inc();
                }
            })
            .build_with_hasher(RandomState::default());
        Self {
            inner,
            entries,
            memos,
            generations: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .build_with_hasher(RandomState::default()),
            next_generation: AtomicU64::new(1),
            versions: Versions::new(),
            enabled: config.max_bytes > 0,
            ttl: config.ttl,
            clock: config.clock.clone(),
            stats,
        }
    }

    fn entry(&self, value: Cached, bytes: usize) -> Entry {
        Entry {
            value,
            fresh_until: self.clock.now() + self.ttl,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }

    /// Finds a fresh entry, or loads one under the key's compute lock so that
    /// concurrent misses share one backend read (`load` counts it).
    /// The write counters `seen` before the read are recorded for a memo
    /// being made ([`memo::record`]).
    async fn read_through<F, Fut>(
        &self,
        key: CacheKey,
        seen: &[Seen],
        load: F,
    ) -> Result<Cached, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Entry, StoreError>>,
    {
        if let Some(found) = self.entries.get(&key).await
            && found.fresh_until > self.clock.now()
        {
            self.stats.hits.inc();
            memo::record(seen, &found);
            return Ok(found.value);
        }
        let result = self
            .entries
            .entry(key.clone())
            .and_try_compute_with(|current| async move {
                if current.is_some_and(|c| c.value().fresh_until > self.clock.now()) {
                    self.stats.hits.inc();
                    return Ok(Op::Nop);
                }
                load().await.map(Op::Put)
            })
            .await?;
        let entry = result
            .into_entry()
            .ok_or_else(|| StoreError::Internal("cache entry vanished".into()))?
            .into_value();
        memo::record(seen, &entry);
        Ok(entry.value)
    }

    fn generation(&self, name: &str) -> u64 {
        self.generations.get_with_by_ref(name, || {
            self.next_generation.fetch_add(1, Ordering::Relaxed)
        })
    }

    fn bump(&self, name: String) -> u64 {
        let fresh = self.next_generation.fetch_add(1, Ordering::Relaxed);
        // Its counter moves after its generation (see `versions`).
        let counter = self.versions.counter(name.as_str());
        self.generations.insert(name, fresh);
        self.versions.bump(counter);
        fresh
    }

    /// `name`'s write counter, then its generation: in that order, so a
    /// memo of what is read under the generation sees any later move.
    fn seen_generation(&self, name: &str) -> (Seen, u64) {
        let seen = self.versions.see(name);
        (seen, self.generation(name))
    }

    /// The generations a query's pages are keyed by: its partition's, plus
    /// the whole index's for GSI queries (see `gsi_partitions_touched`),
    /// with the write counters of both for a memo.
    fn generations_of(&self, query: &Query) -> ((u64, u64), Vec<Seen>) {
        let name = partition_name(query.index, &query.partition);
        let (seen, partition) = self.seen_generation(&name);
        match query.index {
            Index::Primary => ((partition, 0), vec![seen]),
            Index::Gsi1 => {
                let (wide_seen, index) = self.seen_generation(GSI1_WIDE);
                ((partition, index), vec![seen, wide_seen])
            }
        }
    }
}

const GSI1_WIDE: &str = "GSI1*";

/// The attribute `index` sorts a partition by.
fn sort_attr(index: Index) -> &'static str {
    match index {
        Index::Primary => super::attr::SK,
        Index::Gsi1 => super::attr::GSI1SK,
    }
}

fn partition_name(index: Index, partition: &str) -> String {
    match index {
        Index::Primary => format!("P:{partition}"),
        Index::Gsi1 => format!("G:{partition}"),
    }
}

#[async_trait]
impl Table for CachedTable {
    async fn get(&self, key: &Key, read: Read) -> Result<Option<SharedItem>, StoreError> {
        self.core.get(key, read).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if !self.core.enabled {
            return self.core.inner.transact(writes).await;
        }
        let core = self.core.clone();
        let deadline = super::deadline::current();
        let write = async move { core.write(writes).await };
        let task = match deadline {
            Some(at) => tokio::spawn(super::deadline::within(at, write)),
            None => tokio::spawn(write),
        };
        task.await
            .map_err(|e| StoreError::Internal(format!("a write task failed: {e}")))?
    }

    async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError> {
        self.core.query(query, read).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.core.inner.health().await
    }

    fn describe(&self) -> String {
        format!("{} behind an in-process cache", self.core.inner.describe())
    }
}
