//! How the cache keeps what it read: an item as its JSON bytes, not as the
//! tree of maps the store hands out. A tree (`serde_json::Map`) takes about
//! four times its JSON's size on the heap, so bytes let the same budget hold
//! four times the items, and the budget counts what is really held. Reading
//! an entry back parses it (about a microsecond for a todo); reads that
//! repeat are mostly answered a level up, from a response kept whole
//! ([`super::memo`]).
//!
//! Also here: how one write's result is applied to a kept page
//! ([`apply`]), for [`super::pages`].

use std::mem::size_of;

use bytes::Bytes;

use crate::store::{Cursor, Item, Key, Page, Query, StoreError, attr};

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

/// An item as a write left it.
#[derive(Clone)]
pub(super) enum After {
    Item(StoredItem),
    Gone,
    /// An item that expires: whether a page shows it depends on when the
    /// page is read, so a page it falls in is read from the table.
    Expiring,
}

impl After {
    /// What the item entry holds after the write (`Some(None)`: "not
    /// found"); `None` when the item is not kept.
    pub(super) fn kept(&self) -> Option<Option<StoredItem>> {
        match self {
            After::Item(item) => Some(Some(item.clone())),
            After::Gone => Some(None),
            After::Expiring => None,
        }
    }

    /// What it costs in the budget as an entry, with its key.
    pub(super) fn bytes(&self, key: &Key) -> usize {
        let item = match self {
            After::Item(item) => Some(item),
            After::Gone | After::Expiring => None,
        };
        item_bytes(key, item)
    }

    /// What it costs held inside another entry (a partition's history):
    /// its key and JSON, without an entry's overhead.
    pub(super) fn held_bytes(&self, key: &Key) -> usize {
        self.bytes(key) - ENTRY_OVERHEAD + size_of::<(Key, After)>()
    }
}

/// Brings `page` in line with `key` now holding `item` (or nothing).
/// `None` when the result cannot be known without the table.
pub(super) fn apply(page: &mut StoredPage, query: &Query, key: &Key, after: &After) -> Option<()> {
    if key.pk != query.partition || !key.sk.starts_with(&query.sort_prefix) {
        return Some(());
    }
    if !covers(page, query, &key.sk) {
        return Some(());
    }
    let old = page.items.iter().position(|(sort, _)| *sort == key.sk);
    if let Some(at) = old {
        page.items.remove(at);
    }
    let item = match after {
        After::Item(item) => Some(item),
        After::Gone => None,
        After::Expiring => return None,
    };
    let belongs = match item {
        Some(_) if query.filter.is_none() => true,
        Some(stored) => query.matches_filter(&stored.item().ok()?),
        None => false,
    };
    if !belongs {
        // A full page that lost an item would need the next one.
        return (old.is_none() || page.next.is_none()).then_some(());
    }
    let at = page
        .items
        .iter()
        .position(|(sort, _)| (*sort > key.sk) == query.ascending)
        .unwrap_or(page.items.len());
    page.items.insert(at, (key.sk.clone(), item?.clone()));
    if page.items.len() >= query.limit {
        page.items.truncate(query.limit);
        let last = &page.items[query.limit - 1].0;
        page.next = Some(Cursor::at(&Key::new(query.partition.clone(), last.clone())));
    }
    Some(())
}

/// Whether the sort key falls within the part of the partition `page`
/// covers: after the query's cursor, and up to where the page stopped.
fn covers(page: &StoredPage, query: &Query, sort: &str) -> bool {
    fn bound(cursor: &Option<Cursor>) -> Option<&str> {
        cursor.as_ref().and_then(|c| c.get(attr::SK))
    }
    let (start, stop) = (bound(&query.cursor), bound(&page.next));
    if query.ascending {
        start.is_none_or(|s| sort > s) && stop.is_none_or(|s| sort <= s)
    } else {
        start.is_none_or(|s| sort < s) && stop.is_none_or(|s| sort >= s)
    }
}
