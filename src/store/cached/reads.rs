//! The read path of [`super::CachedTable`]: eventually consistent reads
//! answered from memory or loaded once under the key's lock; strong reads
//! sent past the cache, and counted.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

use super::stored::{StoredItem, StoredPage, item_bytes};
use super::{CacheKey, Cached, Core, memo, sort_attr};
use crate::store::{Key, Page, Query, Read, SharedItem, StoreError};

impl Core {
    /// For a read that goes straight to the table, the counter it counts in.
    fn past_the_cache(&self, read: Read) -> Option<&Counter> {
        match (read, self.enabled) {
            (Read::Strong, _) => Some(&self.stats.bypassed),
            (Read::Eventual, false) => Some(&self.stats.misses),
            (Read::Eventual, true) => None,
        }
    }

    pub(super) async fn get(
        &self,
        key: &Key,
        read: Read,
    ) -> Result<Option<SharedItem>, StoreError> {
        if let Some(counter) = self.past_the_cache(read) {
            counter.inc();
            memo::record_uncached();
            return self.inner.get(key, read).await;
        }
        let seen = self.versions.see(key);
        let cached = self
            .read_through(CacheKey::Item(key.clone()), &[seen], || async {
                self.stats.misses.inc();
                let item = self.inner.get(key, Read::Eventual).await?;
                let stored = item.as_deref().map(StoredItem::of);
                let bytes = item_bytes(key, stored.as_ref());
                Ok(self.entry(Cached::Item(stored), bytes))
            })
            .await?;
        match cached {
            Cached::Item(item) => Ok(item.map(|i| i.item()).transpose()?.map(Arc::new)),
            _ => Err(StoreError::Internal(
                "an item key held something else".into(),
            )),
        }
    }

    pub(super) async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError> {
        if let Some(counter) = self.past_the_cache(read) {
            counter.inc();
            memo::record_uncached();
            return self.inner.query(query, read).await;
        }
        let ((partition, index), seen) = self.generations_of(query);
        let key = CacheKey::Page(Box::new(query.clone()), partition, index);
        let cached = self
            .read_through(key, &seen, || async {
                if let Some(entry) = self.patched(query, partition).await {
                    self.stats.hits.inc();
                    self.stats.patched.inc();
                    return Ok(entry);
                }
                self.stats.misses.inc();
                self.keep_history(query).await;
                let page = self.inner.query(query, Read::Eventual).await?;
                let stored = StoredPage::of(&page, sort_attr(query.index));
                let bytes = stored.bytes();
                Ok(self.entry(Cached::Page(Arc::new(stored)), bytes))
            })
            .await?;
        match cached {
            Cached::Page(page) => page.page(),
            _ => Err(StoreError::Internal(
                "a page key held something else".into(),
            )),
        }
    }
}
