//! How the cache keeps what it read: an item as its JSON bytes, not as the
//! tree of maps the store hands out. A tree (`serde_json::Map`) takes about
//! four times its JSON's size on the heap, so bytes let the same budget hold
//! four times the items, and the budget counts what is really held. Reading
//! an entry back parses it (about a microsecond for a todo); reads that
//! repeat are mostly answered a level up, from a response kept whole
//! ([`super::memo`]).

use std::mem::size_of;

use bytes::Bytes;

use super::CacheKey;
use crate::store::{Cursor, Item, Key, Page, StoreError};

/// What an entry costs beyond its own bytes: moka's nodes (the map's
/// bucket, the key held a second time for its queues, the entry's
/// bookkeeping, two queue nodes), the allocator's rounding. Measured under
/// the workload benchmark (`./scripts/bench`): 40,291 entries held 106 MB
/// more than the same run with the cache off, 39 MB more than they were
/// counted at with 160 bytes of overhead each.
pub(super) const ENTRY_OVERHEAD: usize = 1_120;

/// An item, kept as JSON.
#[derive(Clone)]
pub(super) struct StoredItem(Bytes);

impl StoredItem {
    pub(super) fn of(item: &Item) -> Self {
        let json = serde_json::to_vec(item).expect("a map of JSON values serializes");
        // Exactly its length: the encoder's spare capacity would be held too.
        Self(Bytes::from(json.into_boxed_slice()))
    }

    pub(super) fn item(&self) -> Result<Item, StoreError> {
        serde_json::from_slice(&self.0)
            .map_err(|e| StoreError::Internal(format!("a cached item does not parse: {e}")))
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A query's page: its items in order, each with its sort key (so a write
/// can find its place, see [`super::pages`]), and where it stopped.
#[derive(Clone)]
pub(super) struct StoredPage {
    pub(super) items: Vec<(String, StoredItem)>,
    pub(super) next: Option<Cursor>,
}

impl StoredPage {
    /// `sort_key` names the attribute the query's index sorts by.
    pub(super) fn of(page: &Page, sort_key: &str) -> Self {
        let items = page
            .items
            .iter()
            .map(|item| {
                let sort = item
                    .get(sort_key)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                (sort.to_string(), StoredItem::of(item))
            })
            .collect();
        Self {
            items,
            next: page.next.clone(),
        }
    }

    pub(super) fn page(&self) -> Result<Page, StoreError> {
        Ok(Page {
            items: self
                .items
                .iter()
                .map(|(_, item)| item.item())
                .collect::<Result<_, _>>()?,
            next: self.next.clone(),
        })
    }

    pub(super) fn bytes(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .map(|(sort, item)| sort.len() + item.len() + size_of::<(String, StoredItem)>())
            .sum();
        items + ENTRY_OVERHEAD + 64
    }
}

/// What an item entry costs in the budget (`None`: "not found").
pub(super) fn item_bytes(key: &Key, item: Option<&StoredItem>) -> usize {
    key.pk.len() + key.sk.len() + item.map_or(0, StoredItem::len) + ENTRY_OVERHEAD
}

impl CacheKey {
    /// The heap bytes a key holds beyond its own size.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            CacheKey::Item(key) => key.pk.len() + key.sk.len(),
            CacheKey::Page(query, ..) => {
                let cursor = query
                    .cursor
                    .as_ref()
                    .map_or(0, |c| c.0.iter().map(|(n, v)| n.len() + v.len() + 48).sum());
                query.partition.len() + query.sort_prefix.len() + cursor + 64
            }
            CacheKey::Memo(text) | CacheKey::History(text) => text.len(),
        }
    }
}
