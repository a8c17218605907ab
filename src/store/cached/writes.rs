//! The write path of [`super::CachedTable`]: forget what a write touches
//! before it is sent, and bring the cache in line with its outcome after.

use std::sync::Arc;

use moka::ops::compute::Op;
use serde_json::Value;

use super::size::{item_len, key_len};
use super::{CacheKey, Cached, Core, Entry, GSI1_WIDE, partition_name};
use crate::store::{Condition, Index, Key, StoreError, Write, attr};

/// What one write touches, and the entry it leaves if it succeeds.
struct Touched {
    key: Key,
    partitions: Vec<String>,
    after: (Cached, usize),
}

impl Core {
    /// Sends `writes` and brings the cache in line with their outcome.
    pub(super) async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut touched = Vec::with_capacity(writes.len());
        for write in &writes {
            let Some(key) = write.key() else { continue };
            // Before it is sent: readers meanwhile go to the table.
            let previous = self.entries.remove(&CacheKey::Item(key.clone())).await;
            let partitions = self.partitions_touched(write, &key, previous.as_ref());
            self.bump_all(&partitions);
            let after = after(write, &key);
            touched.push(Touched {
                key,
                partitions,
                after,
            });
        }
        let result = self.inner.transact(writes).await;
        for Touched {
            key,
            partitions,
            after,
        } in touched
        {
            self.bump_all(&partitions);
            // The entry as the write left it, under the key's compute lock
            // so a slower concurrent load cannot overwrite it with older
            // data; none when the outcome is unknown.
            let next = match result {
                Ok(()) => Op::Put(self.entry(after.0, after.1)),
                Err(_) => Op::Remove,
            };
            self.entries
                .entry(CacheKey::Item(key))
                .and_compute_with(|_| async move { next })
                .await;
        }
        result
    }

    fn bump_all(&self, partitions: &[String]) {
        for name in partitions {
            self.bump(name.clone());
        }
    }

    /// The query partitions a write can change: its own, the GSI partition
    /// it writes, and the one the old item sat in. If we know the old item,
    /// that is its partition; if we can't know, all of them (a create under
    /// `NotExists` had no old item).
    fn partitions_touched(
        &self,
        write: &Write,
        key: &Key,
        previous: Option<&Entry>,
    ) -> Vec<String> {
        let mut names = vec![partition_name(Index::Primary, &key.pk)];
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
                if let Some(gsi) = old.get(attr::GSI1PK).and_then(Value::as_str) {
                    names.push(partition_name(Index::Gsi1, gsi));
                }
            }
            Some(_) => {}
            None if creates => {}
            None => names.push(GSI1_WIDE.to_string()),
        }
        names
    }
}

/// The cached value a successful write leaves, and its estimated bytes.
fn after(write: &Write, key: &Key) -> (Cached, usize) {
    match write {
        Write::Put { item, .. } => (
            Cached::Item(Some(Arc::new(item.clone()))),
            item_len(item) + key_len(key),
        ),
        Write::Delete { .. } => (Cached::Item(None), key_len(key)),
    }
}
