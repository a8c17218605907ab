//! The [`Table`] trait on Amazon DynamoDB, through aws-sdk-dynamodb.
//!
//! A thin translation: our items are JSON objects, DynamoDB's are attribute
//! maps, and every condition and query becomes an expression. Three things
//! need more than translation, so that resource code sees exactly what the
//! embedded store gives it:
//! - **Expiry.** DynamoDB deletes expired items lazily (up to days later), so
//!   every read drops items whose `expires_at` has passed, and conditions treat
//!   them as absent (`attribute_not_exists(PK) OR expires_at <= :now`).
//! - **Full pages.** DynamoDB applies `Limit` before the filter, so a filtered
//!   page can come back short or empty. [`DynamoTable::query`] keeps reading
//!   until the page is full or the partition ends, and positions the cursor
//!   after the last item it returns.
//! - **Errors.** A failed condition is [`StoreError::ConditionFailed`];
//!   throttling, timeouts and an unreachable endpoint (after the SDK's own
//!   retries) are [`StoreError::Unavailable`], which the HTTP layer answers
//!   with 503 and `Retry-After`.
//!
//! A single write uses PutItem/DeleteItem (half the cost of a transaction);
//! several use TransactWriteItems, all-or-nothing.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::{
    Condition, Cursor, Index, Item, Key, Page, Query, Read, SharedItem, StoreError, Table, Write,
    is_expired,
};
use crate::clock::now_epoch;

/// Attaches a write's condition expression with exactly the names and
/// values it uses.
macro_rules! guarded {
    ($builder:expr, $guard:expr) => {{
        let guard = $guard;
        $builder
            .set_condition_expression(guard.text)
            .set_expression_attribute_names(guard.names)
            .set_expression_attribute_values(guard.values)
    }};
}

mod attrs;
mod expression;

use attrs::{AttrMap, cursor_map, from_attr_map, key_map, to_attr_map};
use expression::Expression;

/// The name of the one global secondary index (see `migrations/`).
pub const GSI1_NAME: &str = "GSI1";

/// One DynamoDB table holding the whole single-table design.
#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    /// Uses `client` (built once per process) for `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn put_one(&self, item: Item, condition: &Condition) -> Result<(), StoreError> {
        let guard = Expression::condition(condition, now_epoch());
        guarded!(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attr_map(item))),
            guard
        )
        .send()
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn delete_one(&self, key: &Key, condition: &Condition) -> Result<(), StoreError> {
        let guard = Expression::condition(condition, now_epoch());
        guarded!(
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_map(key))),
            guard
        )
        .send()
        .await
        .map_err(store_error)?;
        Ok(())
    }

    /// One write as PutItem or DeleteItem, several as one transaction.
    async fn send_writes(&self, mut writes: Vec<Write>) -> Result<(), StoreError> {
        match writes.len() {
            0 => Ok(()),
            1 => match writes.pop().expect("one write") {
                Write::Put { item, condition } => {
                    Key::of(&item).ok_or_else(|| {
                        StoreError::BadItem("an item needs string PK and SK".into())
                    })?;
                    self.put_one(item, &condition).await
                }
                Write::Delete { key, condition } => self.delete_one(&key, &condition).await,
            },
            _ => self.transact_many(writes).await,
        }
    }

    async fn transact_many(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let now = now_epoch();
        let items = writes
            .into_iter()
            .map(|write| self.transact_item(write, now))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        {
            let reasons = cancelled.cancellation_reasons();
            let failed = reasons
                .iter()
                .enumerate()
                .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"));
            let conflict = reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"));
            return Err(match failed {
                Some((index, reason)) => StoreError::ConditionFailed {
                    index,
                    current: checked_item(reason.item(), now)?,
                },
                None if conflict => StoreError::Contended,
                None => StoreError::Unavailable(format!(
                    "transaction cancelled: {:?}",
                    reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                )),
            });
        }
        Err(store_error(error))
    }

    fn transact_item(&self, write: Write, now: u64) -> Result<TransactWriteItem, StoreError> {
        let built = match write {
            Write::Put { item, condition } => {
                let guard = Expression::condition(&condition, now);
                guarded!(
                    Put::builder()
                        .table_name(&self.table)
                        .return_values_on_condition_check_failure(ALL_OLD)
                        .set_item(Some(to_attr_map(item))),
                    guard
                )
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
            }
            Write::Delete { key, condition } => {
                let guard = Expression::condition(&condition, now);
                guarded!(
                    Delete::builder()
                        .table_name(&self.table)
                        .return_values_on_condition_check_failure(ALL_OLD)
                        .set_key(Some(key_map(&key))),
                    guard
                )
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
            }
        };
        built.map_err(|e| StoreError::Internal(e.to_string()))
    }

    /// Reads one DynamoDB page of `query`, starting after `start`, at most
    /// `limit` items before the filter.
    async fn query_once(
        &self,
        query: &Query,
        read: Read,
        start: Option<AttrMap>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<AttrMap>), StoreError> {
        let expr = Expression::query(query, now_epoch());
        let (key_condition, filter) = expr.text.expect("a query always has a key condition");
        // Strong reads are not offered on a GSI; those read eventually.
        let consistent = read == Read::Strong && query.index == Index::Primary;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name((query.index == Index::Gsi1).then(|| GSI1_NAME.to_string()))
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values)
            .scan_index_forward(query.ascending)
            .consistent_read(consistent)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| {
                // DynamoDB refuses some starting keys ("The provided starting
                // key is invalid"); only a client's cursor can cause that.
                let bad_start =
                    query.cursor.is_some() && error.code() == Some("ValidationException");
                if bad_start {
                    StoreError::BadCursor
                } else {
                    store_error(error)
                }
            })?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attr_map)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, output.last_evaluated_key))
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key, read: Read) -> Result<Option<SharedItem>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(read == Read::Strong)
            .send()
            .await
            .map_err(store_error)?;
        let Some(attrs) = output.item else {
            return Ok(None);
        };
        let item = from_attr_map(attrs)?;
        Ok((!is_expired(&item, now_epoch())).then(|| SharedItem::new(item)))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let deadline = super::deadline::current();
        if super::deadline::passed(deadline) {
            return Err(StoreError::Unavailable(
                "the request's deadline passed before its write was sent".into(),
            ));
        }
        let Some(deadline) = deadline else {
            return self.send_writes(writes).await;
        };
        // Cut at the deadline, so no retry of the SDK's is sent after it.
        let at = tokio::time::Instant::from_std(deadline);
        match tokio::time::timeout_at(at, self.send_writes(writes)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(
                "the request's deadline passed while its write was under way".into(),
            )),
        }
    }

    async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError> {
        let mut start = match &query.cursor {
            Some(cursor) => {
                cursor.check(query)?;
                Some(cursor_map(cursor))
            }
            None => None,
        };
        let wanted = query.limit.max(1);
        let mut items = Vec::with_capacity(wanted + 1);
        loop {
            // One more than the page needs tells whether another page follows.
            let (found, last) = self
                .query_once(query, read, start, wanted + 1 - items.len())
                .await?;
            items.extend(found);
            if items.len() > wanted {
                items.truncate(wanted);
                let next = items.last().map(|item| Cursor::after(item, query.index));
                return Ok(Page { items, next });
            }
            match last {
                Some(key) => start = Some(key),
                None => return Ok(Page { items, next: None }),
            }
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.get(&Key::new("HEALTH", "HEALTH"), Read::Eventual)
            .await
            .map(drop)
    }

    fn describe(&self) -> String {
        format!("dynamodb table {}", self.table)
    }
}

/// In a transaction, a failed condition returns the item it was checked
/// against (at no extra cost), which spares a writer that lost a race a read.
const ALL_OLD: ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure::AllOld;

/// The item a failed condition was checked against, as the store shows it:
/// an expired item counts as absent.
fn checked_item(item: Option<&AttrMap>, now: u64) -> Result<Option<SharedItem>, StoreError> {
    let Some(map) = item else { return Ok(None) };
    let item = from_attr_map(map.clone())?;
    Ok((!is_expired(&item, now)).then(|| Arc::new(item)))
}

/// Maps an SDK failure (after the SDK's retries) to the store's error.
fn store_error<E>(error: SdkError<E, crate::aws::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = crate::aws::failure(&error);
    match failure.code.as_deref() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed {
            index: 0,
            current: None,
        },
        Some("ResourceNotFoundException") => StoreError::Unavailable(format!(
            "table not found (run `atrium migrate`): {}",
            failure.detail
        )),
        _ if failure.transient => StoreError::Unavailable(failure.detail),
        _ => StoreError::Internal(failure.detail),
    }
}
