//! The `Table` contract, checked on whichever backend the suite runs
//! against: the embedded store, or DynamoDB (moto) when `ATRIUM_TEST_MOTO`
//! is set. Resource code relies on these behaving identically.

use std::sync::Arc;

use atrium::clock::now_epoch;
use atrium::store::{
    Condition, Cursor, DynamoTable, EmbeddedTable, Index, Item, Key, Query, Read, StoreError,
    Table, Write,
};
use serde_json::json;

use crate::emulator::{moto_url, sdk, unique};
use crate::item;

/// A fresh, empty table on the backend under test.
struct Fresh {
    table: Arc<dyn Table>,
    _dir: tempfile::TempDir,
}

async fn fresh_table() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = match moto_url() {
        Some(url) => {
            let client = aws_sdk_dynamodb::Client::new(&sdk(&url).await);
            let name = unique("store");
            atrium::store::migrations::migrate(&client, &name)
                .await
                .unwrap();
            Arc::new(DynamoTable::new(client, name))
        }
        None => Arc::new(EmbeddedTable::open(&dir.path().join("t.redb")).unwrap()),
    };
    Fresh { table, _dir: dir }
}

fn put(item: Item, condition: Condition) -> Write {
    Write::Put { item, condition }
}

async fn sort_keys(table: &dyn Table, query: &Query) -> (Vec<String>, Option<Cursor>) {
    let page = table.query(query, Read::Strong).await.unwrap();
    let keys = page
        .items
        .iter()
        .map(|i| i["SK"].as_str().unwrap().to_string())
        .collect();
    (keys, page.next)
}

#[tokio::test]
async fn conditions_guard_writes_and_failures_name_the_write() {
    let t = fresh_table().await;
    let table = t.table.as_ref();
    table
        .put(item("P", "a", json!({"version": 1})), Condition::NotExists)
        .await
        .unwrap();
    let again = table
        .put(item("P", "a", json!({"version": 9})), Condition::NotExists)
        .await;
    assert!(matches!(
        again,
        Err(StoreError::ConditionFailed { index: 0, .. })
    ));

    let stale = Condition::Equals {
        name: "version".into(),
        value: json!(0),
    };
    let current = Condition::Equals {
        name: "version".into(),
        value: json!(1),
    };
    let writes = vec![
        put(item("P", "b", json!({})), Condition::NotExists),
        put(item("P", "a", json!({"version": 2})), stale),
    ];
    // The failure names the write and shows the item as the check saw it,
    // so a writer that lost a race can retry without reading.
    let Err(StoreError::ConditionFailed {
        index,
        current: seen,
    }) = table.transact(writes).await
    else {
        panic!("a stale condition fails");
    };
    assert_eq!(index, 1);
    assert_eq!(seen.expect("the item checked")["version"], 1);
    let b = table.get(&Key::new("P", "b"), Read::Strong).await.unwrap();
    assert!(b.is_none(), "a failed transaction writes nothing");

    let writes = vec![
        put(item("P", "b", json!({})), Condition::NotExists),
        put(item("P", "a", json!({"version": 2})), current),
    ];
    table.transact(writes).await.unwrap();
    let a = table.get(&Key::new("P", "a"), Read::Strong).await.unwrap();
    assert_eq!(a.unwrap()["version"], 2);

    let missing = table.delete(Key::new("P", "nope"), Condition::Exists).await;
    assert!(matches!(missing, Err(StoreError::ConditionFailed { .. })));
    table
        .delete(Key::new("P", "b"), Condition::Exists)
        .await
        .unwrap();
}

#[tokio::test]
async fn values_round_trip_exactly() {
    let t = fresh_table().await;
    let stored = item(
        "P",
        "v",
        json!({"title": "ünïcode ✓", "n": 42, "f": 0.25, "neg": -3, "done": false,
               "none": null, "tags": ["a", 1], "nested": {"x": {"y": [true]}}, "empty": ""}),
    );
    t.table.put(stored.clone(), Condition::None).await.unwrap();
    let read = t
        .table
        .get(&Key::new("P", "v"), Read::Strong)
        .await
        .unwrap();
    assert_eq!(read.as_deref(), Some(&stored));
}

#[tokio::test]
async fn expired_items_are_invisible_and_count_as_absent() {
    // DynamoDB deletes expired items up to days late (moto never does), so
    // the store must hide them itself.
    let t = fresh_table().await;
    let table = t.table.as_ref();
    let past = now_epoch() - 10;
    let future = now_epoch() + 3600;
    table
        .put(
            item("P", "old", json!({"expires_at": past})),
            Condition::None,
        )
        .await
        .unwrap();
    table
        .put(
            item("P", "new", json!({"expires_at": future})),
            Condition::None,
        )
        .await
        .unwrap();
    let old = table
        .get(&Key::new("P", "old"), Read::Strong)
        .await
        .unwrap();
    assert!(old.is_none());
    assert_eq!(sort_keys(table, &Query::partition("P")).await.0, ["new"]);
    // A create over an expired item succeeds, as it would once TTL deleted it;
    // an update of one fails, as it would.
    let update = table
        .put(item("P", "old", json!({})), Condition::Exists)
        .await;
    assert!(matches!(update, Err(StoreError::ConditionFailed { .. })));
    table
        .put(item("P", "old", json!({})), Condition::NotExists)
        .await
        .unwrap();
}

#[tokio::test]
async fn filtered_pages_are_full_and_cursors_walk_the_partition() {
    let t = fresh_table().await;
    let table = t.table.as_ref();
    for n in 0..12 {
        let done = n % 3 == 0; // 0, 3, 6, 9
        let todo = item("U", &format!("TODO#{n:02}"), json!({"completed": done}));
        table.put(todo, Condition::None).await.unwrap();
    }
    table
        .put(item("U", "OTHER#1", json!({})), Condition::None)
        .await
        .unwrap();
    let mut query = Query::partition("U");
    query.sort_prefix = "TODO#".into();
    query.filter = Some(("completed".into(), "true".into()));
    query.limit = 3;
    let (first, next) = sort_keys(table, &query).await;
    assert_eq!(
        first,
        ["TODO#00", "TODO#03", "TODO#06"],
        "a full page despite the filter"
    );
    query.cursor = next;
    let (second, next) = sort_keys(table, &query).await;
    assert_eq!(second, ["TODO#09"]);
    assert!(next.is_none(), "the partition has ended");

    query.filter = None;
    query.ascending = false;
    query.cursor = None;
    query.limit = 5;
    let (newest, _) = sort_keys(table, &query).await;
    assert_eq!(newest[0], "TODO#11", "descending order");
}

#[tokio::test]
async fn cursors_from_elsewhere_are_refused() {
    let t = fresh_table().await;
    let table = t.table.as_ref();
    for owner in ["alice", "mallory"] {
        for n in 0..3 {
            let todo = item(&format!("USER#{owner}"), &format!("TODO#{n}"), json!({}));
            table.put(todo, Condition::None).await.unwrap();
        }
    }
    let mut query = Query::partition("USER#mallory");
    query.limit = 1;
    let page = table.query(&query, Read::Eventual).await.unwrap();
    let mallory_cursor = page.next.unwrap();

    // Mallory rewrites her cursor to point into alice's partition.
    let mut forged = mallory_cursor.clone();
    forged.0[0].1 = "USER#alice".into();
    let mut stolen = query.clone();
    stolen.cursor = Some(Cursor::decode(&forged.encode()).unwrap());
    assert!(matches!(
        table.query(&stolen, Read::Eventual).await,
        Err(StoreError::BadCursor)
    ));
    // Her own cursor on alice's query is refused too.
    let mut alice = Query::partition("USER#alice");
    alice.cursor = Some(mallory_cursor);
    assert!(matches!(
        table.query(&alice, Read::Eventual).await,
        Err(StoreError::BadCursor)
    ));
    for garbage in ["", "!!!", "e30", "eyJQSyI6MX0"] {
        assert!(
            Cursor::decode(garbage).is_err() || {
                let mut q = query.clone();
                q.cursor = Cursor::decode(garbage).ok();
                table.query(&q, Read::Eventual).await.is_err()
            }
        );
    }
}

#[tokio::test]
async fn the_secondary_index_lists_newest_first() {
    let t = fresh_table().await;
    let table = t.table.as_ref();
    for (slug, published) in [
        ("a", "2026-01-01"),
        ("b", "2026-03-01"),
        ("c", "2026-02-01"),
    ] {
        let post = item(
            &format!("POST#{slug}"),
            "POST",
            json!({"GSI1PK": "PUBLISHED", "GSI1SK": published}),
        );
        table.put(post, Condition::None).await.unwrap();
    }
    table
        .put(item("POST#draft", "POST", json!({})), Condition::None)
        .await
        .unwrap();
    let query = Query {
        index: Index::Gsi1,
        ascending: false,
        limit: 2,
        ..Query::partition("PUBLISHED")
    };
    let page = table.query(&query, Read::Eventual).await.unwrap();
    let slugs: Vec<_> = page.items.iter().map(|i| i["PK"].clone()).collect();
    assert_eq!(slugs, ["POST#b", "POST#c"]);
    let next = Query {
        cursor: page.next,
        ..query
    };
    let rest = table.query(&next, Read::Eventual).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0]["PK"], "POST#a");
    assert!(rest.next.is_none());
}
