//! The write path of [`super::CachedTable`]: forget what a write touches
//! before it is sent, and bring the cache in line with its outcome after.

use moka::ops::compute::Op;
use serde_json::Value;

use super::stored::{After, StoredItem};
use super::{CacheKey, Cached, Core, Entry, GSI1_WIDE, partition_name};
use crate::store::{Condition, Index, Key, StoreError, Write, attr};

/// What one write touches, and the item it leaves if it succeeds.
struct Touched {
    key: Key,
    /// Partitions of the GSI (or all of it) whose pages it may change.
    gsi_partitions: Vec<String>,
    after: After,
}

impl Core {
    /// Sends `writes` and brings the cache in line with their outcome.
    pub(super) async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut touched = Vec::with_capacity(writes.len());
        for write in &writes {
            let Some(key) = write.key() else { continue };
            // Before it is sent: readers meanwhile go to the table.
            let previous = self.entries.remove(&CacheKey::Item(key.clone())).await;
            self.versions.bump(self.versions.counter(&key));
            let gsi_partitions = gsi_partitions_touched(write, previous.as_ref());
            self.bump_all(&gsi_partitions);
            touched.push(Touched {
                key,
                gsi_partitions,
                after: after(write),
            });
        }
        let mut partitions: Vec<&str> = touched.iter().map(|t| t.key.pk.as_str()).collect();
        partitions.sort_unstable();
        partitions.dedup();
        let mut began = Vec::with_capacity(partitions.len());
        for partition in &partitions {
            began.push(self.begin_write(partition).await);
        }

        let result = self.inner.transact(writes).await;

        for (partition, began) in partitions.iter().zip(began) {
            let changes = result.is_ok().then(|| {
                touched
                    .iter()
                    .filter(|t| t.key.pk == *partition)
                    .map(|t| (t.key.clone(), t.after.clone()))
                    .collect()
            });
            self.end_write(partition, began, changes).await;
        }
        for t in &touched {
            self.bump_all(&t.gsi_partitions);
            // The entry as the write left it, under the key's compute lock
            // so a slower concurrent load cannot overwrite it with older
            // data; none when the outcome is unknown.
            let next = match (&result, t.after.kept()) {
                (Ok(()), Some(item)) => {
                    let bytes = t.after.bytes(&t.key);
                    Op::Put(self.entry(Cached::Item(item), bytes))
                }
                _ => Op::Remove,
            };
            self.entries
                .entry(CacheKey::Item(t.key.clone()))
                .and_compute_with(|_| async move { next })
                .await;
            self.versions.bump(self.versions.counter(&t.key));
        }
        result
    }

    fn bump_all(&self, partitions: &[String]) {
        for name in partitions {
            self.bump(name.clone());
        }
    }
}

/// The GSI partitions a write can change: the one it writes, and the one
/// the old item sat in. If we know the old item, that is its partition;
/// if we can't know, all of them (a create under `NotExists` had no old
/// item).
fn gsi_partitions_touched(write: &Write, previous: Option<&Entry>) -> Vec<String> {
    let mut names = Vec::new();
    if let Write::Put { item, .. } = write
        && let Some(gsi) = item.get(attr::GSI1PK).and_then(Value::as_str)
    {
        names.push(partition_name(Index::Gsi1, gsi));
    }
    let creates = matches!(
        write,
        Write::Put {
            condition: Condition::NotExists,
            ..
        }
    );
    match previous.map(|e| &e.value) {
        Some(Cached::Item(Some(old))) => {
            let old = old.item().ok();
            match old
                .as_ref()
                .map(|o| o.get(attr::GSI1PK).and_then(Value::as_str))
            {
                Some(Some(gsi)) => names.push(partition_name(Index::Gsi1, gsi)),
                Some(None) => {}
                None => names.push(GSI1_WIDE.to_string()),
            }
        }
        Some(_) => {}
        None if creates => {}
        None => names.push(GSI1_WIDE.to_string()),
    }
    names
}

/// The item a successful write leaves. An item that expires (a change
/// log entry, an idempotency record) is written once and read rarely, if
/// ever, by key: it is not kept (nor encoded), and only marks the pages it
/// falls in as needing the table.
fn after(write: &Write) -> After {
    match write {
        Write::Put { item, .. } if item.contains_key(attr::EXPIRES_AT) => After::Expiring,
        Write::Put { item, .. } => After::Item(StoredItem::of(item)),
        Write::Delete { .. } => After::Gone,
    }
}
