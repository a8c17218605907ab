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
//! - The budget is in bytes (an estimate of each entry's JSON size), not entries.
//! - Hits, misses (= backend reads), evictions and bytes are exported.
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

mod settings;
mod size;

pub use settings::{CacheConfig, CacheStats, Clock};

use size::{json_len, key_len};

use async_trait::async_trait;
use foldhash::fast::RandomState;
use moka::ops::compute::Op;
use serde_json::Value;

use super::{Condition, Index, Key, Page, Query, Read, SharedItem, StoreError, Table, Write, attr};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CacheKey {
    Item(Key),
    /// A query, with the generations it was read under.
    Page(Query, u64, u64),
}

#[derive(Clone)]
enum Cached {
    Item(Option<SharedItem>),
    Page(Arc<Page>),
}

#[derive(Clone)]
struct Entry {
    value: Cached,
    fresh_until: Instant,
    bytes: u32,
}

/// A [`Table`] that remembers what it read.
pub struct CachedTable {
    inner: Arc<dyn Table>,
    entries: moka::future::Cache<CacheKey, Entry, RandomState>,
    /// Partition (or whole-index) name → its current generation.
    generations: moka::sync::Cache<String, u64, RandomState>,
    next_generation: AtomicU64,
    ttl: Duration,
    clock: Clock,
    stats: CacheStats,
}

impl CachedTable {
    pub fn new(inner: Arc<dyn Table>, config: &CacheConfig) -> Self {
        let stats = CacheStats::default();
        let evictions = stats.evictions.clone();
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_bytes)
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
            generations: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .build_with_hasher(RandomState::default()),
            next_generation: AtomicU64::new(1),
            ttl: config.ttl,
            clock: config.clock.clone(),
            stats,
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Estimated bytes held now.
    pub fn bytes(&self) -> u64 {
        self.entries.weighted_size()
    }

    /// Runs moka's pending housekeeping (for exact figures in tests and metrics).
    pub async fn sync(&self) {
        self.entries.run_pending_tasks().await;
    }

    fn entry(&self, value: Cached, bytes: usize) -> Entry {
        Entry {
            value,
            fresh_until: self.clock.now() + self.ttl,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }

    /// Finds a fresh entry, or loads one under the key's compute lock so that
    /// concurrent misses share one backend read.
    async fn read_through<F, Fut>(&self, key: CacheKey, load: F) -> Result<Cached, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Entry, StoreError>>,
    {
        if let Some(found) = self.entries.get(&key).await
            && found.fresh_until > self.clock.now()
        {
            self.stats.hits.inc();
            return Ok(found.value);
        }
        let result = self
            .entries
            .entry(key)
            .and_try_compute_with(|current| async move {
                if current.is_some_and(|c| c.value().fresh_until > self.clock.now()) {
                    self.stats.hits.inc();
                    return Ok(Op::Nop);
                }
                self.stats.misses.inc();
                load().await.map(Op::Put)
            })
            .await?;
        let entry = result
            .into_entry()
            .ok_or_else(|| StoreError::Internal("cache entry vanished".into()))?;
        Ok(entry.into_value().value)
    }

    fn generation(&self, name: &str) -> u64 {
        self.generations.get_with_by_ref(name, || {
            self.next_generation.fetch_add(1, Ordering::Relaxed)
        })
    }

    fn bump(&self, name: String) {
        let fresh = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.generations.insert(name, fresh);
    }

    /// The generation names a query depends on: its partition, plus the whole
    /// index for GSI queries (see `forget_partitions`).
    fn generations_of(&self, query: &Query) -> (u64, u64) {
        let partition = self.generation(&partition_name(query.index, &query.partition));
        let index = match query.index {
            Index::Primary => 0,
            Index::Gsi1 => self.generation(GSI1_WIDE),
        };
        (partition, index)
    }

    /// After a write: replace the item's entry (under its compute lock, so a
    /// slower concurrent load cannot overwrite it with older data) and make
    /// the affected query pages unreachable.
    async fn after_write(&self, write: &Write, succeeded: bool) {
        let Some(key) = write.key() else { return };
        let previous = self.entries.get(&CacheKey::Item(key.clone())).await;
        self.forget_partitions(write, previous.as_ref());
        let next = match (write, succeeded) {
            (Write::Put { item, .. }, true) => {
                let bytes = json_len(item) + key_len(&key);
                Op::Put(self.entry(Cached::Item(Some(Arc::new(item.clone()))), bytes))
            }
            (Write::Delete { .. }, true) => Op::Put(self.entry(Cached::Item(None), key_len(&key))),
            // A failed or unknown outcome: our view may be stale, drop it.
            (_, false) => Op::Remove,
        };
        self.entries
            .entry(CacheKey::Item(key))
            .and_compute_with(|_| async move { next })
            .await;
    }

    fn forget_partitions(&self, write: &Write, previous: Option<&Entry>) {
        let Some(key) = write.key() else { return };
        self.bump(partition_name(Index::Primary, &key.pk));
        if let Write::Put { item, .. } = write
            && let Some(gsi) = item.get(attr::GSI1PK).and_then(Value::as_str)
        {
            self.bump(partition_name(Index::Gsi1, gsi));
        }
        // The old item may sit in a GSI partition the new one left. If we
        // know the old item, bump its partition; if we can't know, bump them
        // all (a create under `NotExists` had no old item).
        let creates = matches!(
            write,
            Write::Put {
                condition: Condition::NotExists,
                ..
            }
        );
        match previous.map(|e| &e.value) {
            Some(Cached::Item(Some(old))) => {
                if let Some(gsi) = old.get(attr::GSI1PK).and_then(Value::as_str) {
                    self.bump(partition_name(Index::Gsi1, gsi));
                }
            }
            Some(_) => {}
            None if creates => {}
            None => self.bump(GSI1_WIDE.to_string()),
        }
    }
}

const GSI1_WIDE: &str = "GSI1*";

fn partition_name(index: Index, partition: &str) -> String {
    match index {
        Index::Primary => format!("P:{partition}"),
        Index::Gsi1 => format!("G:{partition}"),
    }
}

#[async_trait]
impl Table for CachedTable {
    async fn get(&self, key: &Key, read: Read) -> Result<Option<SharedItem>, StoreError> {
        if read == Read::Strong {
            return self.inner.get(key, read).await;
        }
        let cached = self
            .read_through(CacheKey::Item(key.clone()), || async {
                let item = self.inner.get(key, Read::Eventual).await?;
                let bytes = key_len(key) + item.as_deref().map_or(0, json_len);
                Ok(self.entry(Cached::Item(item), bytes))
            })
            .await?;
        match cached {
            Cached::Item(item) => Ok(item),
            Cached::Page(_) => Err(StoreError::Internal("item key held a page".into())),
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let result = self.inner.transact(writes.clone()).await;
        for write in &writes {
            self.after_write(write, result.is_ok()).await;
        }
        result
    }

    async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError> {
        if read == Read::Strong {
            return self.inner.query(query, read).await;
        }
        let (partition, index) = self.generations_of(query);
        let key = CacheKey::Page(query.clone(), partition, index);
        let cached = self
            .read_through(key, || async {
                let page = self.inner.query(query, Read::Eventual).await?;
                let bytes = page.items.iter().map(json_len).sum::<usize>() + 64;
                Ok(self.entry(Cached::Page(Arc::new(page)), bytes))
            })
            .await?;
        match cached {
            Cached::Page(page) => Ok((*page).clone()),
            Cached::Item(_) => Err(StoreError::Internal("page key held an item".into())),
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }

    fn describe(&self) -> String {
        format!("{} behind an in-process cache", self.inner.describe())
    }
}
