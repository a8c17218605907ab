//! The item store: one table, addressed the way DynamoDB addresses it.
//!
//! Resource modules (todos, blog, uploads) talk to a [`Table`] and never know
//! which engine is behind it. The trait is deliberately shaped like
//! DynamoDB's item API (partition key `PK`, sort key `SK`, one GSI, conditional
//! writes, all-or-nothing transactions, paginated queries) so that the
//! DynamoDB implementation is a thin translation and the embedded one can't
//! offer anything DynamoDB couldn't.
//!
//! Items are JSON objects. Attribute names that the store itself understands:
//! `PK`, `SK`, `GSI1PK`, `GSI1SK` (the keys) and `expires_at` (epoch seconds;
//! an item past it is invisible to reads, as DynamoDB TTL would eventually
//! delete it).

mod cached;
mod change;
mod cursor;
pub mod deadline;
mod dynamo;
mod embedded;
pub mod migrations;

pub use cached::{CacheConfig, CacheStats, CachedTable, Clock, MemoKey, MemoOf};
pub use change::{ChangeKind, ChangeRecord};
pub use cursor::Cursor;
pub use dynamo::{DynamoTable, GSI1_NAME};
pub use embedded::{ChangeFeed, EmbeddedTable};

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One stored item: attribute name → value.
pub type Item = Map<String, Value>;

/// An item as read: an immutable snapshot that a cache can share with every
/// reader without copying it.
pub type SharedItem = Arc<Item>;

/// Reads a typed value out of an item without copying the item first
/// (attributes the type doesn't name, such as the keys, are ignored).
pub fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, serde_json::Error> {
    let fields = item.iter().map(|(name, value)| (name.as_str(), value));
    T::deserialize(serde::de::value::MapDeserializer::new(fields))
}

/// Writes a typed value as an item at `key` (the value's own fields, plus
/// `PK` and `SK`). The value must serialize to a JSON object.
pub fn encode<T: serde::Serialize>(value: &T, key: &Key) -> Item {
    let Ok(Value::Object(mut item)) = serde_json::to_value(value) else {
        panic!("an item type must serialize to a JSON object");
    };
    item.insert(attr::PK.into(), Value::String(key.pk.clone()));
    item.insert(attr::SK.into(), Value::String(key.sk.clone()));
    item
}

/// Attribute names the store interprets.
pub mod attr {
    pub const PK: &str = "PK";
    pub const SK: &str = "SK";
    pub const GSI1PK: &str = "GSI1PK";
    pub const GSI1SK: &str = "GSI1SK";
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Reads the primary key out of an item, if it has one.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(
            item.get(attr::PK)?.as_str()?,
            item.get(attr::SK)?.as_str()?,
        ))
    }
}

/// How fresh a read must be. Strong reads bypass any cache, as they do in DAX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    Eventual,
    Strong,
}

/// A guard on a write, evaluated atomically with it.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Write unconditionally.
    None,
    /// The item must not exist (or must have expired).
    NotExists,
    /// The item must exist.
    Exists,
    /// The item must exist and `name` must equal `value` (optimistic locking).
    Equals { name: String, value: Value },
}

impl Condition {
    /// The item must still be at `version` (optimistic locking: every
    /// versioned item increases its `version` by one on each change).
    pub fn version_is(version: u64) -> Self {
        Condition::Equals {
            name: "version".into(),
            value: version.into(),
        }
    }
}

/// One write: a whole-item put or a delete.
#[derive(Clone, Debug)]
pub enum Write {
    Put { item: Item, condition: Condition },
    Delete { key: Key, condition: Condition },
}

impl Write {
    /// The primary key this write touches.
    pub fn key(&self) -> Option<Key> {
        match self {
            Write::Put { item, .. } => Key::of(item),
            Write::Delete { key, .. } => Some(key.clone()),
        }
    }
}

/// Which index a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    /// The table itself: partition `PK`, sorted by `SK`.
    Primary,
    /// The global secondary index: partition `GSI1PK`, sorted by `GSI1SK`.
    Gsi1,
}

impl Index {
    pub fn partition_attr(self) -> &'static str {
        match self {
            Index::Primary => attr::PK,
            Index::Gsi1 => attr::GSI1PK,
        }
    }
}

/// A query on one partition of one index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    /// Only sort keys starting with this prefix ("" for all).
    pub sort_prefix: String,
    /// Only items whose attribute equals this value (serialized JSON), applied
    /// before `limit` counts, so a page is full unless the partition ends.
    pub filter: Option<(String, String)>,
    /// At most this many items per page (1 or more).
    pub limit: usize,
    /// Ascending sort key order when true.
    pub ascending: bool,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// All items of a partition on the primary index, ascending, 100 a page.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: pk.into(),
            sort_prefix: String::new(),
            filter: None,
            limit: 100,
            ascending: true,
            cursor: None,
        }
    }

    /// True when an item's attribute matches this query's filter.
    pub fn matches_filter(&self, item: &Item) -> bool {
        match &self.filter {
            None => true,
            Some((name, json)) => item
                .get(name)
                .is_some_and(|v| serde_json::to_string(v).is_ok_and(|s| &s == json)),
        }
    }
}

/// One page of query results.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub next: Option<Cursor>,
}

/// What can go wrong in a store, in terms the HTTP layer can map.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold: for a transaction, the index of the
    /// first write whose condition failed, and the item it was checked
    /// against when the backend returns it (both do within a transaction;
    /// `None` also when there was none), so a writer that lost a race can
    /// try again without reading first.
    #[error("condition failed")]
    ConditionFailed {
        index: usize,
        current: Option<SharedItem>,
    },
    /// A pagination cursor that this store did not issue for this query.
    #[error("invalid cursor")]
    BadCursor,
    /// The item is malformed for this store (missing keys, NUL in a key...).
    #[error("invalid item: {0}")]
    BadItem(String),
    /// Another transaction was writing the same items at the same moment
    /// (DynamoDB's `TransactionConflict`); worth retrying at once.
    #[error("transaction conflict")]
    Contended,
    /// The backend is unreachable or throttling; worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; a bug or a broken backend.
    #[error("store failure: {0}")]
    Internal(String),
}

/// The item API every backend offers.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    /// Reads one item. Expired items read as absent.
    async fn get(&self, key: &Key, read: Read) -> Result<Option<SharedItem>, StoreError>;

    /// Applies writes all-or-nothing, each with its condition.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// Reads one page of a partition.
    async fn query(&self, query: &Query, read: Read) -> Result<Page, StoreError>;

    /// Checks that the backend answers (for `/readyz`).
    async fn health(&self) -> Result<(), StoreError>;

    /// A short name for logs: "embedded", "dynamodb", ...
    fn describe(&self) -> String;
}

impl dyn Table {
    /// Puts one item under a condition.
    pub async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.transact(vec![Write::Put { item, condition }]).await
    }

    /// Deletes one item under a condition.
    pub async fn delete(&self, key: Key, condition: Condition) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete { key, condition }]).await
    }

    /// Applies one write; `Ok(false)` when its condition did not hold (an
    /// item exists already, or another writer changed it first).
    pub async fn write_if(&self, write: Write) -> Result<bool, StoreError> {
        match self.transact(vec![write]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl StoreError {
    /// True when trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Contended)
    }
}

/// True when an item carries an `expires_at` that has passed.
pub fn is_expired(item: &Item, now: u64) -> bool {
    item.get(attr::EXPIRES_AT)
        .and_then(Value::as_u64)
        .is_some_and(|at| at <= now)
}

/// True when `condition` holds for `current` (the live item, if any).
pub fn condition_holds(condition: &Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::Equals { name, value } => current.and_then(|i| i.get(name)) == Some(value),
    }
}
