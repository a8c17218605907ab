//! Cached pages that survive this instance's writes.
//!
//! A write moves its partition to a new generation, so every page read
//! before it can no longer be found (see [`super`]). Read again from the
//! table, the first page of a busy user's list would cost a backend read
//! after every change they make. Instead, each partition of the primary
//! index that has a page in memory keeps a short history of this
//! instance's writes to it: for each, the generations a page could have
//! been read under (before the write, and while it was in flight), the
//! generation it led to, and the items as the write left them. A page
//! missed under the current generation is then made from an older page
//! still in memory, with the writes since applied in order, and no backend
//! read; the older page, now unreachable, is dropped.
//!
//! Why this is safe:
//! - Applying a write's result is idempotent (an item is replaced or
//!   removed by its key), so a page read while the write was in flight is
//!   right whether or not it saw it.
//! - Every move of a partition's generation happens under its history's
//!   lock. A write records its step only if nothing moved the partition
//!   while it was in flight; writes that overlap (or fail, or whose
//!   outcome is unknown) clear the history, and the next read goes to the
//!   table.
//! - A made page keeps the freshness of the page it was made from, so
//!   other instances' writes still show within the TTL.
//! - Where a write's effect on a page cannot be known from the page alone
//!   (an item leaves a full page, so the page would need the next one), or
//!   the item can expire, the page is read from the table.
//! - Histories are cache entries like any other: bounded by the budget,
//!   evicted under pressure, which only costs a backend read.

use std::collections::VecDeque;
use std::sync::Arc;

use moka::ops::compute::Op;

use super::stored::{After, apply};
use super::{CacheKey, Cached, Core, Entry, partition_name};
use crate::store::{Index, Key, Query};

/// Writes remembered per partition: enough for a burst of changes between
/// two reads of a list.
const STEPS: usize = 8;

/// Queries remembered per partition (a list, filtered, a second page...).
const QUERIES: usize = 4;

/// One partition's recent writes through this instance, oldest first, and
/// the queries whose pages each write brings up to date at once, so that
/// the page it replaces leaves memory with it.
#[derive(Clone, Default)]
pub(super) struct History {
    steps: VecDeque<Arc<Step>>,
    queries: Vec<Query>,
}

/// What one write did to a partition.
pub(super) struct Step {
    /// Generations a page brought up to date by this step may have been
    /// read under: before the write was sent, and while it was in flight.
    from: [u64; 2],
    /// The generation the write left the partition at.
    to: u64,
    /// Each item the write touched in the partition, as it left it.
    changes: Vec<(Key, After)>,
}

impl History {
    fn bytes(&self) -> usize {
        let changes: usize = self
            .steps
            .iter()
            .flat_map(|step| &step.changes)
            .map(|(key, after)| after.held_bytes(key))
            .sum();
        changes + self.queries.len() * 128 + 256
    }
}

impl Core {
    /// Before a write to `partition` (primary index) is sent: moves it to a
    /// fresh generation. Returns the generations before and after.
    pub(super) async fn begin_write(&self, partition: &str) -> [u64; 2] {
        let name = partition_name(Index::Primary, partition);
        let mut began = [0; 2];
        self.with_history(&name, false, |_| {
            began = [self.generation(&name), self.bump(name.clone())];
        })
        .await;
        began
    }

    /// After the write: moves the partition on again, and remembers what
    /// the write did if it succeeded (`changes`) and nothing else moved the
    /// partition while it was in flight; otherwise forgets the steps. Then
    /// brings the partition's known pages up to date.
    pub(super) async fn end_write(
        &self,
        partition: &str,
        began: [u64; 2],
        changes: Option<Vec<(Key, After)>>,
    ) {
        let name = partition_name(Index::Primary, partition);
        let mut to = 0;
        let mut recorded = false;
        let kept = self
            .with_history(&name, false, |history| {
                let undisturbed = self.generation(&name) == began[1];
                to = self.bump(name.clone());
                match changes.filter(|_| undisturbed) {
                    Some(changes) => {
                        if history.steps.len() == STEPS {
                            history.steps.pop_front();
                        }
                        let step = Step {
                            from: began,
                            to,
                            changes,
                        };
                        history.steps.push_back(Arc::new(step));
                        recorded = true;
                    }
                    None => history.steps.clear(),
                }
            })
            .await;
        let queries = kept.iter().flat_map(|history| &history.queries);
        for query in queries {
            if !recorded {
                self.drop_pages(query, began.into_iter()).await;
            } else if let Some(page) = self.patched(query, to).await {
                self.entries
                    .entry(CacheKey::Page(Box::new(query.clone()), to, 0))
                    .or_insert_with(async { page })
                    .await;
            }
        }
    }

    /// Starts a history for `query`'s partition, if it has none, before a
    /// page of it is read from the table: from now on, writes to it are
    /// remembered.
    pub(super) async fn keep_history(&self, query: &Query) {
        if query.index != Index::Primary {
            return;
        }
        let name = partition_name(Index::Primary, &query.partition);
        self.with_history(&name, true, |history| {
            if !history.queries.contains(query) {
                if history.queries.len() == QUERIES {
                    history.queries.remove(0);
                }
                history.queries.push(query.clone());
            }
        })
        .await;
    }

    /// Runs `change` on the partition's history under its lock (all moves
    /// of a partition's generation happen under it), keeps the result and
    /// returns it. A partition without a history (no page of it was read,
    /// or it was evicted) gets one only if `create`.
    async fn with_history(
        &self,
        name: &str,
        create: bool,
        change: impl FnOnce(&mut History),
    ) -> Option<Arc<History>> {
        let mut kept = None;
        self.entries
            .entry(CacheKey::History(name.to_string()))
            .and_compute_with(|current| {
                let found = match current.map(|entry| entry.into_value().value) {
                    Some(Cached::History(history)) => Some((*history).clone()),
                    _ => None,
                };
                let exists = found.is_some();
                let mut history = found.unwrap_or_default();
                change(&mut history);
                let op = if exists || create {
                    let bytes = history.bytes();
                    let history = Arc::new(history);
                    kept = Some(history.clone());
                    Op::Put(self.entry(Cached::History(history), bytes))
                } else {
                    Op::Nop
                };
                async move { op }
            })
            .await;
        kept
    }

    /// `query`'s page at the partition's generation `now`, made from an
    /// older page in memory and this instance's writes since; `None` when
    /// there is no such page or a write's effect on it cannot be known.
    pub(super) async fn patched(&self, query: &Query, now: u64) -> Option<Entry> {
        if query.index != Index::Primary {
            return None;
        }
        let name = partition_name(Index::Primary, &query.partition);
        let Cached::History(history) = self.entries.get(&CacheKey::History(name)).await?.value
        else {
            return None;
        };
        let mut at = now;
        for (newest, step) in history.steps.iter().enumerate().rev() {
            if step.to != at {
                return None;
            }
            for from in step.from {
                let key = CacheKey::Page(Box::new(query.clone()), from, 0);
                if let Some(base) = self.fresh_page(&key).await {
                    let page = self.brought_up(query, &base, history.steps.range(newest..));
                    let passed = history.steps.range(newest..).flat_map(|step| step.from);
                    self.drop_pages(query, passed).await;
                    return page;
                }
            }
            at = step.from[0];
        }
        None
    }

    /// Drops `query`'s pages read under `generations`: nothing can reach
    /// them any more, and they would hold their space until evicted.
    async fn drop_pages(&self, query: &Query, generations: impl Iterator<Item = u64>) {
        for generation in generations {
            let key = CacheKey::Page(Box::new(query.clone()), generation, 0);
            self.entries.invalidate(&key).await;
        }
    }

    async fn fresh_page(&self, key: &CacheKey) -> Option<Entry> {
        self.entries
            .get(key)
            .await
            .filter(|entry| entry.fresh_until > self.clock.now())
    }

    fn brought_up<'a>(
        &self,
        query: &Query,
        base: &Entry,
        steps: impl Iterator<Item = &'a Arc<Step>>,
    ) -> Option<Entry> {
        let Cached::Page(page) = &base.value else {
            return None;
        };
        let mut page = (**page).clone();
        for step in steps {
            for (key, after) in &step.changes {
                apply(&mut page, query, key, after)?;
            }
        }
        let bytes = page.bytes();
        let mut entry = self.entry(Cached::Page(Arc::new(page)), bytes);
        entry.fresh_until = base.fresh_until;
        Some(entry)
    }
}
