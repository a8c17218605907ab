//! The cache's semantics at the `Table` level, over the real embedded store
//! wrapped in a counter of the reads that reach it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atrium::store::{
    CacheConfig, CachedTable, Clock, Condition, EmbeddedTable, Index, Item, Key, Page, Query, Read,
    SharedItem, StoreError, Table, Write,
};
use serde_json::json;

use crate::item;

/// Passes everything to the real store and counts the reads.
pub struct Counting {
    pub inner: EmbeddedTable,
    gets: AtomicUsize,
    queries: AtomicUsize,
}

#[async_trait]
impl Table for Counting {
    async fn get(&self, key: &Key, read: Read) -> Result<Option<SharedItem>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key, read).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
    async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query, read).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

pub struct Fixture {
    pub backend: Arc<Counting>,
    pub cache: Arc<CachedTable>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(config: CacheConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Counting {
            inner: EmbeddedTable::open(&dir.path().join("t.redb")).unwrap(),
            gets: AtomicUsize::new(0),
            queries: AtomicUsize::new(0),
        });
        let cache = Arc::new(CachedTable::new(backend.clone(), &config));
        Self {
            backend,
            cache,
            _dir: dir,
        }
    }
    pub fn table(&self) -> &dyn Table {
        self.cache.as_ref()
    }
    pub fn gets(&self) -> usize {
        self.backend.gets.load(Ordering::SeqCst)
    }
    pub fn queries(&self) -> usize {
        self.backend.queries.load(Ordering::SeqCst)
    }
    /// How many items a query returns through the cache.
    pub async fn count(&self, query: &Query) -> usize {
        self.table()
            .query(query, Read::Eventual)
            .await
            .unwrap()
            .items
            .len()
    }
    /// Writes through the cache, as this instance's handlers do.
    pub async fn put_through_the_cache(&self, item: Item) {
        self.table().put(item, Condition::None).await.unwrap();
    }
    /// Writes straight to the store, as another instance would.
    pub async fn put_behind_the_cache(&self, item: Item) {
        let put = Write::Put {
            item,
            condition: Condition::None,
        };
        self.backend.inner.transact(vec![put]).await.unwrap();
    }
}

#[tokio::test]
async fn reads_are_served_from_memory_and_writes_are_read_back() {
    let f = Fixture::new(CacheConfig::default());
    let key = Key::new("USER#a", "TODO#1");
    f.put_through_the_cache(item("USER#a", "TODO#1", json!({ "v": 1 })))
        .await;
    let query = Query::partition("USER#a");
    assert_eq!(f.count(&query).await, 1);
    for _ in 0..5 {
        assert_eq!(
            f.table().get(&key, Read::Eventual).await.unwrap().unwrap()["v"],
            1
        );
        f.table().query(&query, Read::Eventual).await.unwrap();
    }
    assert_eq!(
        (f.gets(), f.queries()),
        (0, 1),
        "the write filled the item entry; one query read"
    );

    f.put_through_the_cache(item("USER#a", "TODO#1", json!({ "v": 2 })))
        .await;
    f.put_through_the_cache(item("USER#a", "TODO#2", json!({ "v": 1 })))
        .await;
    assert_eq!(
        f.table().get(&key, Read::Eventual).await.unwrap().unwrap()["v"],
        2,
        "read-your-writes (item)"
    );
    let page = f.table().query(&query, Read::Eventual).await.unwrap();
    assert_eq!(page.items.len(), 2, "read-your-writes (query)");
    assert_eq!(page.items[0]["v"], 2);

    f.table()
        .delete(key.clone(), Condition::Exists)
        .await
        .unwrap();
    assert!(f.table().get(&key, Read::Eventual).await.unwrap().is_none());
    assert_eq!(f.count(&query).await, 1);
    assert_eq!(f.gets(), 0, "deletes are cached as 'not found'");
}

#[tokio::test]
async fn concurrent_misses_make_one_backend_read() {
    let f = Fixture::new(CacheConfig::default());
    f.put_behind_the_cache(item("P", "S", json!({}))).await;
    let key = Key::new("P", "S");
    let reads = (0..100).map(|_| f.table().get(&key, Read::Eventual));
    let results = futures::future::join_all(reads).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap().is_some()));
    assert_eq!(f.gets(), 1);
    let stats = f.cache.stats();
    assert_eq!((stats.misses.get(), stats.hits.get()), (1, 99));
}

#[tokio::test]
async fn not_found_is_cached_too() {
    let f = Fixture::new(CacheConfig::default());
    let key = Key::new("P", "missing");
    for _ in 0..3 {
        assert!(f.table().get(&key, Read::Eventual).await.unwrap().is_none());
    }
    assert_eq!(f.gets(), 1);
}

#[tokio::test]
async fn strong_reads_bypass_the_cache() {
    let f = Fixture::new(CacheConfig::default());
    let key = Key::new("P", "S");
    f.table().get(&key, Read::Eventual).await.unwrap();
    // A write behind the cache's back (another instance) ...
    f.put_behind_the_cache(item("P", "S", json!({}))).await;
    assert!(
        f.table().get(&key, Read::Eventual).await.unwrap().is_none(),
        "eventual: stale within the TTL"
    );
    assert!(
        f.table().get(&key, Read::Strong).await.unwrap().is_some(),
        "strong: sees it"
    );
    assert_eq!(f.gets(), 2);
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let clock = Clock::default();
    let f = Fixture::new(CacheConfig {
        ttl: Duration::from_secs(300),
        clock: clock.clone(),
        ..CacheConfig::default()
    });
    let key = Key::new("P", "S");
    let query = Query::partition("P");
    f.table().get(&key, Read::Eventual).await.unwrap();
    f.table().query(&query, Read::Eventual).await.unwrap();
    clock.advance(Duration::from_secs(299));
    f.table().get(&key, Read::Eventual).await.unwrap();
    f.table().query(&query, Read::Eventual).await.unwrap();
    assert_eq!((f.gets(), f.queries()), (1, 1), "fresh until the TTL");
    clock.advance(Duration::from_secs(2));
    f.table().get(&key, Read::Eventual).await.unwrap();
    f.table().query(&query, Read::Eventual).await.unwrap();
    assert_eq!((f.gets(), f.queries()), (2, 2), "re-read after the TTL");
}

#[tokio::test]
async fn memory_is_bounded_by_bytes() {
    let max_bytes = 64 * 1024;
    let f = Fixture::new(CacheConfig {
        max_bytes,
        ..CacheConfig::default()
    });
    let body = "x".repeat(1000);
    for i in 0..500 {
        f.table()
            .put(
                item("P", &format!("S{i}"), json!({ "body": body })),
                Condition::None,
            )
            .await
            .unwrap();
    }
    f.cache.sync().await;
    assert!(
        f.cache.bytes() <= max_bytes,
        "{} bytes held",
        f.cache.bytes()
    );
    assert!(
        f.cache.bytes() > max_bytes / 2,
        "the budget is used: {}",
        f.cache.bytes()
    );
    assert!(f.cache.stats().evictions.get() > 0);
}

#[tokio::test]
async fn a_failed_condition_drops_the_stale_entry() {
    let f = Fixture::new(CacheConfig::default());
    let key = Key::new("P", "S");
    f.put_through_the_cache(item("P", "S", json!({ "version": 1 })))
        .await;
    // Another instance moves the item on.
    f.put_behind_the_cache(item("P", "S", json!({ "version": 2 })))
        .await;
    let stale_write = Write::Put {
        item: item("P", "S", json!({ "version": 2 })),
        condition: Condition::Equals {
            name: "version".into(),
            value: json!(1),
        },
    };
    assert!(matches!(
        f.table().transact(vec![stale_write]).await,
        Err(StoreError::ConditionFailed { index: 0, .. })
    ));
    assert_eq!(
        f.table().get(&key, Read::Eventual).await.unwrap().unwrap()["version"],
        2,
        "re-read after the failure"
    );
}

#[tokio::test]
async fn an_item_leaving_a_gsi_partition_leaves_its_cached_queries() {
    let f = Fixture::new(CacheConfig::default());
    let published = json!({ "GSI1PK": "POSTS", "GSI1SK": "2026-01-01" });
    f.put_through_the_cache(item("POST#a", "POST", published))
        .await;
    let query = Query {
        index: Index::Gsi1,
        ..Query::partition("POSTS")
    };
    assert_eq!(f.count(&query).await, 1);
    // Unpublished: the new item has no GSI keys at all.
    f.put_through_the_cache(item("POST#a", "POST", json!({})))
        .await;
    assert_eq!(f.count(&query).await, 0);
}

#[tokio::test]
async fn expired_items_are_invisible_and_purged() {
    let f = Fixture::new(CacheConfig::default());
    let past = atrium::clock::now_epoch() - 10;
    f.put_behind_the_cache(item("P", "old", json!({ "expires_at": past })))
        .await;
    f.put_behind_the_cache(item("P", "new", json!({ "expires_at": past + 3600 })))
        .await;
    assert!(
        f.backend
            .inner
            .get(&Key::new("P", "old"), Read::Strong)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        f.backend
            .inner
            .query(&Query::partition("P"), Read::Strong)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // A create over an expired item succeeds, as it would once TTL deleted it.
    f.backend
        .inner
        .transact(vec![Write::Put {
            item: item("P", "old", json!({})),
            condition: Condition::NotExists,
        }])
        .await
        .unwrap();
    f.put_behind_the_cache(item("P", "gone", json!({ "expires_at": past })))
        .await;
    assert_eq!(f.backend.inner.purge_expired().await.unwrap(), 1);
}

#[tokio::test]
async fn a_budget_of_zero_turns_the_cache_off() {
    let off = CacheConfig {
        max_bytes: 0,
        ..CacheConfig::default()
    };
    let f = Fixture::new(off);
    let key = Key::new("USER#a", "TODO#1");
    f.put_through_the_cache(item("USER#a", "TODO#1", json!({ "v": 1 })))
        .await;
    let query = Query::partition("USER#a");
    for _ in 0..3 {
        f.table().get(&key, Read::Eventual).await.unwrap().unwrap();
        assert_eq!(f.count(&query).await, 1);
    }
    assert_eq!(
        (f.gets(), f.queries()),
        (3, 3),
        "every read reaches the store"
    );
    let stats = f.cache.stats();
    assert_eq!((stats.hits.get(), stats.misses.get()), (0, 6));
    f.cache.sync().await;
    assert_eq!(f.cache.bytes(), 0, "nothing is kept");
}
