//! The write path of [`super::CachedTable`]: forget what a write touches
//! before it is sent, and bring the cache in line with its outcome after.

use std::sync::Arc;

use moka::ops::compute::Op;
use serde_json::Value;

use super::size::{json_len, key_len};
use super::{CacheKey, Cached, Core, Entry, GSI1_WIDE, partition_name};
use crate::store::{Condition, Index, Key, StoreError, Write, attr};

impl Core {
    /// Sends `writes` and brings the cache in line with their outcome.
    pub(super) async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut touched = Vec::with_capacity(writes.len());
        for write in &writes {
            let Some(key) = write.key() else { continue };
            let previous = self.entries.get(&CacheKey::Item(key.clone())).await;
            let partitions = self.partitions_touched(write, &key, previous.as_ref());
            self.forget(&key, &partitions).await;
            touched.push((key, partitions));
        }
        let result = self.inner.transact(writes.clone()).await;
        for (write, (key, partitions)) in writes.iter().zip(touched) {
            self.bump_all(&partitions);
            self.remember(write, key, result.is_ok()).await;
        }
        result
    }

    /// Before a write is sent: readers meanwhile go to the table.
    async fn forget(&self, key: &Key, partitions: &[String]) {
        self.bump_all(partitions);
        self.entries
            .entry(CacheKey::Item(key.clone()))
            .and_compute_with(|_| async { Op::Remove })
            .await;
    }

    /// After a write: the item's entry as the write left it (under its
    /// compute lock, so a slower concurrent load cannot overwrite it with
    /// older data), or none when the outcome is unknown.
    async fn remember(&self, write: &Write, key: Key, succeeded: bool) {
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
