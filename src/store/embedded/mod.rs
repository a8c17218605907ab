//! The embedded table: the whole single-table design in one redb file.
//!
//! Why redb: pure Rust (no C toolchain, quick to build), ACID with
//! copy-on-write B-trees, and every commit is fsynced by default, so a write
//! we acknowledge survives `kill -9` and power loss. One writer at a time is
//! plenty for a laptop or a test run; readers never block.
//!
//! Layout (all keys are byte strings; `\0` separates parts, which is why key
//! attributes may not contain NUL):
//! - `items`:  `PK \0 SK` → item JSON
//! - `gsi1`:   `GSI1PK \0 GSI1SK \0 PK \0 SK` → nothing (points into `items`)
//! - `expiry`: `expires_at (8 bytes, big-endian) PK \0 SK` → nothing, so the
//!   purger finds expired items without scanning the table.
//! - `changes` (only with [`EmbeddedTable::with_change_feed`]): sequence →
//!   [`ChangeRecord`] JSON, written in the same transaction as the change, so
//!   the local stand-in for DynamoDB Streams loses no change across a crash;
//!   a consumer deletes a record once it has handled it.
//!
//! redb is synchronous; every call runs on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde_json::Value;

use super::{
    ChangeRecord, Item, Key, Page, Query, Read, SharedItem, StoreError, Table, Write, attr,
    condition_holds, deadline, is_expired,
};
use crate::clock::now_epoch;

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], ()> = TableDefinition::new("gsi1");
const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("expiry");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");

mod feed;
mod layout;
mod query;

pub use feed::ChangeFeed;

use feed::append_change;
use layout::{expiry_id, gsi_id, item_id};
use query::run_query;

/// A durable single-table store in one file.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
    path: String,
    /// Present when changes are recorded for a consumer.
    feed: Option<Arc<tokio::sync::Notify>>,
}

/// redb's own page cache. Its default, 1 GiB, filled to 200 MiB while
/// 50,000 todos were written and 430 MiB under the workload benchmark; the
/// read cache in front of the store and the kernel's page cache already
/// hold what is read often.
const PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl EmbeddedTable {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(path)
            .map_err(internal)?;
        let txn = db.begin_write().map_err(internal)?;
        txn.open_table(ITEMS).map_err(internal)?;
        txn.open_table(GSI1).map_err(internal)?;
        txn.open_table(EXPIRY).map_err(internal)?;
        txn.open_table(CHANGES).map_err(internal)?;
        txn.commit().map_err(internal)?;
        Ok(Self {
            db: Arc::new(db),
            path: path.display().to_string(),
            feed: None,
        })
    }

    /// Records every change from now on, for the returned feed's consumer.
    pub fn with_change_feed(mut self) -> (Self, ChangeFeed) {
        let committed = Arc::new(tokio::sync::Notify::new());
        self.feed = Some(committed.clone());
        let feed = ChangeFeed {
            db: self.db.clone(),
            committed,
        };
        (self, feed)
    }

    /// Deletes items whose `expires_at` has passed; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let db = self.db.clone();
        blocking(move || purge_expired(&db, now_epoch())).await
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key, _read: Read) -> Result<Option<SharedItem>, StoreError> {
        let db = self.db.clone();
        let id = item_id(&key.pk, &key.sk)?;
        blocking(move || {
            let txn = db.begin_read().map_err(internal)?;
            let items = txn.open_table(ITEMS).map_err(internal)?;
            let found = items.get(id.as_slice()).map_err(internal)?;
            Ok(found
                .map(|v| parse(v.value()))
                .transpose()?
                .filter(|item| !is_expired(item, now_epoch()))
                .map(Arc::new))
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let db = self.db.clone();
        let record = self.feed.is_some();
        let deadline = deadline::current();
        blocking(move || {
            let txn = db.begin_write().map_err(internal)?;
            if deadline::passed(deadline) {
                return Err(StoreError::Unavailable(
                    "the request's deadline passed before its write began".into(),
                ));
            }
            let now = now_epoch();
            for (index, write) in writes.iter().enumerate() {
                let change = apply(&txn, write, now, index)?;
                if let Some(change) = change.filter(|_| record) {
                    append_change(&txn, &change)?;
                }
            }
            // Dropping `txn` without commit (on the `?` above) aborts every write.
            txn.commit().map_err(internal)
        })
        .await?;
        if let Some(committed) = &self.feed {
            committed.notify_one();
        }
        Ok(())
    }

    async fn query(&self, query: &Query, _read: Read) -> Result<Page, StoreError> {
        if let Some(cursor) = &query.cursor {
            cursor.check(query)?;
        }
        let db = self.db.clone();
        let query = query.clone();
        blocking(move || run_query(&db, &query)).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_read().map_err(internal)?;
            txn.open_table(ITEMS)
                .map_err(internal)?
                .len()
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    fn describe(&self) -> String {
        format!("embedded redb at {}", self.path)
    }
}

/// Applies one write inside a transaction, checking its condition first;
/// returns what it changed.
fn apply(
    txn: &WriteTransaction,
    write: &Write,
    now: u64,
    index: usize,
) -> Result<Option<ChangeRecord>, StoreError> {
    let key = write
        .key()
        .ok_or_else(|| StoreError::BadItem("an item needs string PK and SK".into()))?;
    let id = item_id(&key.pk, &key.sk)?;
    let mut items = txn.open_table(ITEMS).map_err(internal)?;
    let current = items
        .get(id.as_slice())
        .map_err(internal)?
        .map(|v| parse(v.value()))
        .transpose()?;
    let live = current.as_ref().filter(|item| !is_expired(item, now));
    let condition = match write {
        Write::Put { condition, .. } | Write::Delete { condition, .. } => condition,
    };
    if !condition_holds(condition, live) {
        return Err(StoreError::ConditionFailed {
            index,
            current: live.cloned().map(Arc::new),
        });
    }
    let change = ChangeRecord::of(write, live);
    if let Some(old) = &current {
        unindex(txn, &key, old)?;
    }
    match write {
        Write::Put { item, .. } => {
            let bytes = serde_json::to_vec(item).map_err(internal)?;
            items
                .insert(id.as_slice(), bytes.as_slice())
                .map_err(internal)?;
            index_item(txn, &key, item)?;
        }
        Write::Delete { .. } => {
            items.remove(id.as_slice()).map_err(internal)?;
        }
    }
    Ok(change)
}

/// Adds the GSI and expiry entries of an item.
fn index_item(txn: &WriteTransaction, key: &Key, item: &Item) -> Result<(), StoreError> {
    if let Some(gsi) = gsi_id(key, item)? {
        txn.open_table(GSI1)
            .map_err(internal)?
            .insert(gsi.as_slice(), ())
            .map_err(internal)?;
    }
    if let Some(at) = item.get(attr::EXPIRES_AT).and_then(Value::as_u64) {
        let id = expiry_id(at, key)?;
        txn.open_table(EXPIRY)
            .map_err(internal)?
            .insert(id.as_slice(), ())
            .map_err(internal)?;
    }
    Ok(())
}

/// Removes the GSI and expiry entries of an item that is being replaced.
fn unindex(txn: &WriteTransaction, key: &Key, item: &Item) -> Result<(), StoreError> {
    if let Some(gsi) = gsi_id(key, item)? {
        txn.open_table(GSI1)
            .map_err(internal)?
            .remove(gsi.as_slice())
            .map_err(internal)?;
    }
    if let Some(at) = item.get(attr::EXPIRES_AT).and_then(Value::as_u64) {
        let id = expiry_id(at, key)?;
        txn.open_table(EXPIRY)
            .map_err(internal)?
            .remove(id.as_slice())
            .map_err(internal)?;
    }
    Ok(())
}

fn purge_expired(db: &Database, now: u64) -> Result<usize, StoreError> {
    let txn = db.begin_write().map_err(internal)?;
    let mut purged = 0;
    {
        let mut expiry = txn.open_table(EXPIRY).map_err(internal)?;
        let mut upper = now.to_be_bytes().to_vec();
        upper.push(0xFF);
        let due: Vec<Vec<u8>> = expiry
            .range::<&[u8]>(..upper.as_slice())
            .map_err(internal)?
            .map(|entry| entry.map(|(k, _)| k.value().to_vec()).map_err(internal))
            .collect::<Result<_, _>>()?;
        let mut items = txn.open_table(ITEMS).map_err(internal)?;
        let mut gsi = txn.open_table(GSI1).map_err(internal)?;
        for id in due {
            expiry.remove(id.as_slice()).map_err(internal)?;
            let item_key = &id[8..];
            let Some(item) = items
                .remove(item_key)
                .map_err(internal)?
                .map(|v| parse(v.value()))
                .transpose()?
            else {
                continue;
            };
            if let Some(key) = Key::of(&item)
                && let Some(g) = gsi_id(&key, &item)?
            {
                gsi.remove(g.as_slice()).map_err(internal)?;
            }
            purged += 1;
        }
    }
    txn.commit().map_err(internal)?;
    Ok(purged)
}

fn parse(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(internal)
}

fn internal(error: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(error.to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}
