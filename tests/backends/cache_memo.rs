//! Memos (a kept HTTP answer) at the `Table` level: a memo is checked
//! against write counters, not against the entries it was made from, so
//! it outlives their eviction, and a write still retires it.

use std::sync::Arc;

use atrium::store::{CacheConfig, CachedTable, Key, MemoOf, Read};
use serde_json::json;

use crate::cache::Fixture;
use crate::item;

const MEMO: MemoOf = MemoOf {
    caller: "alice",
    what: "/todos/A",
};

#[tokio::test]
async fn a_memo_outlives_its_items_eviction_but_not_a_write_to_it() {
    // Room for about five of the 2 KB fillers below (and a quarter for memos).
    let f = Fixture::new(CacheConfig {
        max_bytes: 16 * 1024,
        ..CacheConfig::default()
    });
    let key = Key::new("P", "A");
    f.put_through_the_cache(item("P", "A", json!({ "v": 1 })))
        .await;
    let slot = f.cache.recall(MEMO).unwrap_err();
    let (read, reads) = CachedTable::recording(f.table().get(&key, Read::Eventual)).await;
    assert_eq!(read.unwrap().unwrap()["v"], 1);
    f.cache
        .remember(slot, Arc::new("answer v1"), 16, reads.unwrap());

    // Reads of other items (written behind the cache: no counter moves)
    // push the item out, while the memo, recalled each time, stays.
    let body = "x".repeat(1000);
    for i in 0..40 {
        f.put_behind_the_cache(item("Q", &format!("S{i}"), json!({ "body": body })))
            .await;
        let filler = Key::new("Q", format!("S{i}"));
        f.table().get(&filler, Read::Eventual).await.unwrap();
        assert!(f.cache.recall(MEMO).is_ok(), "after {i} fillers");
        f.cache.sync().await;
    }
    let gets = f.gets();
    f.table().get(&key, Read::Eventual).await.unwrap();
    assert_eq!(f.gets(), gets + 1, "the item was evicted");
    assert!(f.cache.recall(MEMO).is_ok());

    f.put_through_the_cache(item("P", "A", json!({ "v": 2 })))
        .await;
    assert!(
        f.cache.recall(MEMO).is_err(),
        "a write to the item retires the memo made from it"
    );
}
