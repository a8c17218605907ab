//! Cached pages brought up to date by this instance's writes: every page
//! read through the cache must equal the store's own answer, while the
//! reads that reach the store fall.

use std::time::Duration;

use atrium::store::{CacheConfig, Clock, Condition, Key, Page, Query, Read, Table, Write};
use serde_json::{Value, json};

use crate::cache::Fixture;
use crate::item;

/// A todo-like item of user `a`, and the change log entry and counter a
/// journal commit writes beside it (an entry that expires, as the log's do).
fn commit(n: u32, completed: bool, seq: u64) -> Vec<Write> {
    let expires = atrium::clock::now_epoch() + 3600;
    vec![
        Write::Put {
            item: item(
                "U#a",
                &format!("TODO#{n:02}"),
                json!({ "completed": completed }),
            ),
            condition: Condition::None,
        },
        Write::Put {
            item: item("U#a", "SYNC", json!({ "seq": seq })),
            condition: Condition::None,
        },
        Write::Put {
            item: item(
                "U#a",
                &format!("CHANGE#{seq:04}"),
                json!({ "expires_at": expires }),
            ),
            condition: Condition::None,
        },
    ]
}

fn delete(n: u32) -> Vec<Write> {
    vec![Write::Delete {
        key: Key::new("U#a", format!("TODO#{n:02}")),
        condition: Condition::None,
    }]
}

/// User `a`'s todos, `limit` a page.
fn todos(limit: usize) -> Query {
    Query {
        sort_prefix: "TODO#".into(),
        limit,
        ..Query::partition("U#a")
    }
}

/// The queries a client makes of the list: both orders, a filter, short
/// pages, and the page after the first.
fn queries(store_first_page: &Page) -> Vec<Query> {
    let base = todos(3);
    let mut second = base.clone();
    second.cursor = store_first_page.next.clone();
    vec![
        base.clone(),
        Query {
            ascending: false,
            ..base.clone()
        },
        Query {
            filter: Some(("completed".into(), "true".into())),
            ..base.clone()
        },
        Query {
            limit: 100,
            ..base.clone()
        },
        second,
    ]
}

fn view(page: &Page) -> (Vec<(Value, Value)>, Option<String>) {
    let items = page
        .items
        .iter()
        .map(|i| (i["SK"].clone(), i["completed"].clone()))
        .collect();
    (items, page.next.as_ref().map(|c| c.encode()))
}

#[tokio::test]
async fn pages_read_after_writes_equal_the_stores_own() {
    let f = Fixture::new(CacheConfig::default());
    let mut random = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random % n
    };
    for seq in 1..=300 {
        let n = next(12) as u32;
        let writes = if next(3) == 0 {
            delete(n)
        } else {
            commit(n, next(2) == 0, seq)
        };
        f.table().transact(writes).await.unwrap();
        let first = todos(3);
        let store_first = f.backend.inner.query(&first, Read::Strong).await.unwrap();
        for query in queries(&store_first) {
            let cached = f.table().query(&query, Read::Eventual).await.unwrap();
            let store = f.backend.inner.query(&query, Read::Strong).await.unwrap();
            assert_eq!(view(&cached), view(&store), "after write {seq}: {query:?}");
        }
    }
    let patched = f.cache.stats().patched.get();
    let misses = f.cache.stats().misses.get();
    assert!(
        patched > 3 * misses,
        "most pages come from memory: {patched} made, {misses} read"
    );
}

#[tokio::test]
async fn a_list_read_after_each_write_costs_no_backend_read() {
    let f = Fixture::new(CacheConfig::default());
    let list = todos(50);
    for n in 0..5 {
        f.table()
            .transact(commit(n, false, n.into()))
            .await
            .unwrap();
    }
    assert_eq!(f.count(&list).await, 5);
    let read_once = f.queries();
    for (seq, n) in (10..20).zip(5..) {
        f.table().transact(commit(n, false, seq)).await.unwrap();
        assert_eq!(f.count(&list).await, n as usize + 1, "created");
    }
    f.table().transact(commit(3, true, 30)).await.unwrap();
    let page = f.table().query(&list, Read::Eventual).await.unwrap();
    assert_eq!(page.items[3]["completed"], true, "changed");
    f.table().transact(delete(0)).await.unwrap();
    assert_eq!(f.count(&list).await, 14, "deleted");
    assert_eq!(
        f.queries(),
        read_once,
        "every page after a write was made in memory"
    );
}

#[tokio::test]
async fn a_made_page_still_shows_other_instances_writes_within_the_ttl() {
    let clock = Clock::default();
    let f = Fixture::new(CacheConfig {
        ttl: Duration::from_secs(300),
        clock: clock.clone(),
        ..CacheConfig::default()
    });
    let list = todos(100);
    f.table().transact(commit(1, false, 1)).await.unwrap();
    assert_eq!(f.count(&list).await, 1);
    // Another instance adds a todo; this one then writes and reads again.
    f.put_behind_the_cache(item("U#a", "TODO#02", json!({})))
        .await;
    clock.advance(Duration::from_secs(200));
    f.table().transact(commit(3, false, 2)).await.unwrap();
    assert_eq!(f.count(&list).await, 2, "made from the page: not seen yet");
    clock.advance(Duration::from_secs(101));
    assert_eq!(
        f.count(&list).await,
        3,
        "the made page expires with the page it was made from"
    );
}

#[tokio::test]
async fn overlapping_writes_send_the_next_read_to_the_store() {
    let f = Fixture::new(CacheConfig::default());
    let list = todos(100);
    f.table().transact(commit(1, false, 1)).await.unwrap();
    f.count(&list).await;
    let read_once = f.queries();
    let writes = (2..12).map(|n| f.table().transact(commit(n, false, n.into())));
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    let page = f.table().query(&list, Read::Eventual).await.unwrap();
    let store = f.backend.inner.query(&list, Read::Strong).await.unwrap();
    assert_eq!(view(&page), view(&store));
    assert!(f.queries() <= read_once + 1);
}
