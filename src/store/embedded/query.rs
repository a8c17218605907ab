//! Queries on the embedded store: one partition of one index, walked in
//! key order from where the cursor stopped, until the page is full.

use std::ops::Bound;

use redb::{Database, ReadableDatabase};

use super::layout::{cursor_id, gsi_target, join};
use super::{GSI1, ITEMS, internal, parse};
use crate::clock::now_epoch;
use crate::store::{Cursor, Index, Page, Query, StoreError, is_expired};

/// One page of `query`, read in one transaction.
pub(super) fn run_query(db: &Database, query: &Query) -> Result<Page, StoreError> {
    let txn = db.begin_read().map_err(internal)?;
    let items = txn.open_table(ITEMS).map_err(internal)?;
    let gsi = txn.open_table(GSI1).map_err(internal)?;
    let now = now_epoch();
    let (prefix, upper, resume) = bounds(query)?;
    let (lower, upper) = match (&resume, query.ascending) {
        (Some(at), true) => (
            Bound::Excluded(at.as_slice()),
            Bound::Excluded(upper.as_slice()),
        ),
        (Some(at), false) => (
            Bound::Included(prefix.as_slice()),
            Bound::Excluded(at.as_slice()),
        ),
        (None, _) => (
            Bound::Included(prefix.as_slice()),
            Bound::Excluded(upper.as_slice()),
        ),
    };
    let mut page = Page::default();
    let mut visit = |entry_key: &[u8]| -> Result<bool, StoreError> {
        let item_key = match query.index {
            Index::Primary => entry_key.to_vec(),
            Index::Gsi1 => gsi_target(entry_key),
        };
        let Some(raw) = items.get(item_key.as_slice()).map_err(internal)? else {
            return Ok(true);
        };
        let item = parse(raw.value())?;
        if !is_expired(&item, now) && query.matches_filter(&item) {
            page.items.push(item);
        }
        Ok(page.items.len() < query.limit)
    };
    let range = (lower, upper);
    // `walk` says whether it stopped on a full page, i.e. more may follow.
    let more = match query.index {
        Index::Primary => walk(
            items.range::<&[u8]>(range).map_err(internal)?,
            query.ascending,
            &mut visit,
        )?,
        Index::Gsi1 => walk(
            gsi.range::<&[u8]>(range).map_err(internal)?,
            query.ascending,
            &mut visit,
        )?,
    };
    if more {
        page.next = page
            .items
            .last()
            .map(|last| Cursor::after(last, query.index));
    }
    Ok(page)
}

/// The partition's first key, the key above its last, and where the
/// cursor stopped.
type Bounds = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

fn bounds(query: &Query) -> Result<Bounds, StoreError> {
    let prefix = join(&[&query.partition, &query.sort_prefix])?;
    let mut upper = prefix.clone();
    upper.push(0xFF); // never in UTF-8, so above every key with this prefix
    let resume = query
        .cursor
        .as_ref()
        .map(|c| cursor_id(c, query.index))
        .transpose()?;
    Ok((prefix, upper, resume))
}

/// Visits entries in order until `visit` says stop; returns true when it
/// stopped early (so more entries may follow).
fn walk<V: redb::Value + 'static>(
    range: redb::Range<'static, &'static [u8], V>,
    ascending: bool,
    mut visit: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    let mut step = |entry: Result<
        (redb::AccessGuard<'_, &[u8]>, redb::AccessGuard<'_, V>),
        redb::StorageError,
    >| {
        let (k, _) = entry.map_err(internal)?;
        visit(k.value())
    };
    if ascending {
        for entry in range {
            if !step(entry)? {
                return Ok(true);
            }
        }
    } else {
        for entry in range.rev() {
            if !step(entry)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
