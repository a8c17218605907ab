//! The local stand-in for DynamoDB Streams: every committed change is
//! appended, in the same transaction, to the `changes` table; the consumer
//! reads records in commit order and deletes each once handled, so no change
//! is lost across a crash.

use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};

use super::{CHANGES, blocking, internal};
use crate::store::{ChangeRecord, StoreError};

/// The consumer's side of the change feed: records in commit order.
#[derive(Clone)]
pub struct ChangeFeed {
    pub(super) db: Arc<Database>,
    pub(super) committed: Arc<tokio::sync::Notify>,
}

/// Appends a record to the change feed, after the newest one.
pub(super) fn append_change(
    txn: &WriteTransaction,
    change: &ChangeRecord,
) -> Result<(), StoreError> {
    let mut changes = txn.open_table(CHANGES).map_err(internal)?;
    let next = match changes.last().map_err(internal)? {
        Some((seq, _)) => seq.value() + 1,
        None => 1,
    };
    let bytes = serde_json::to_vec(change).map_err(internal)?;
    changes.insert(next, bytes.as_slice()).map_err(internal)?;
    Ok(())
}

impl ChangeFeed {
    /// Up to `limit` unhandled records, oldest first, with their sequence.
    pub async fn pending(&self, limit: usize) -> Result<Vec<(u64, ChangeRecord)>, StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_read().map_err(internal)?;
            let changes = txn.open_table(CHANGES).map_err(internal)?;
            let mut found = Vec::new();
            for entry in changes.iter().map_err(internal)?.take(limit) {
                let (seq, bytes) = entry.map_err(internal)?;
                let change = serde_json::from_slice(bytes.value()).map_err(internal)?;
                found.push((seq.value(), change));
            }
            Ok(found)
        })
        .await
    }

    /// Forgets every record up to and including `seq`, handled in order:
    /// one commit for a whole run of records, not one each (every commit
    /// is a disk sync, and a todo write alone makes three records).
    pub async fn ack_through(&self, seq: u64) -> Result<(), StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(internal)?;
            txn.open_table(CHANGES)
                .map_err(internal)?
                .retain_in(..=seq, |_, _| false)
                .map_err(internal)?;
            txn.commit().map_err(internal)
        })
        .await
    }

    /// Waits until a write commits (returns at once if one committed since
    /// the last wait).
    pub async fn committed(&self) {
        self.committed.notified().await;
    }
}
