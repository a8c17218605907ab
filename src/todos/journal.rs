//! The numbered log of each user's todo changes, which `GET /todos/changes`
//! reads so a device that was offline learns exactly what changed, deletions
//! included.
//!
//! Why a per-user sequence and not timestamps: instances' clocks drift, and
//! a write stamped a little in the past by a slow clock would land behind a
//! position a client has already passed; no safety window makes that
//! impossible, only unlikely. Numbers handed out under a condition make it
//! impossible. Every write to a user's todos commits, in one transaction:
//!
//! - the todo write itself (and any record that goes with it);
//! - the user's counter (`SYNC`) moved from N to N + k, on condition that it
//!   is still N;
//! - one log entry per changed todo (`CHANGE#{N+1}` … `CHANGE#{N+k}`) with
//!   the todo as written, or that it was deleted: the tombstone.
//!
//! Two writers that both read N cannot both commit: the second one's
//! condition on the counter fails and it tries again above the first. So
//! the log has no gaps and no number twice, across any number of instances,
//! whatever their clocks say, and a strongly consistent read past N sees
//! every change after N. The counter is first read through the cache (this
//! instance's own writes keep it current), so the usual write costs no extra
//! round trip; a stale copy costs a retry.
//!
//! Entries expire (DynamoDB TTL; the embedded store's purger) a day after
//! the retention, so a token younger than the retention always finds every
//! entry after it, even across clocks a little apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use super::model::Todo;
use crate::clock::now_epoch;
use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::store::{self, Condition, Cursor, Item, Key, Query, Read, StoreError, Table, Write};

/// How long entries outlive the retention, for clocks a little apart and
/// for a cache's view of the counter a little behind.
const GRACE_SECS: u64 = 86_400;

/// Tries at a write before giving up with 503: each failed try means
/// another write of the same user committed meanwhile.
const ATTEMPTS: usize = 8;

/// What one write did to one todo.
#[derive(Clone, Debug)]
pub enum Change {
    Saved(Todo),
    Deleted(TodoId),
}

/// One entry of the log, as stored and as read back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub id: TodoId,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<Todo>,
}

/// Numbers and logs every change to a user's todos.
pub struct Journal {
    table: Arc<dyn Table>,
    retention: Duration,
    bells: Bells,
}

impl Journal {
    pub fn new(table: Arc<dyn Table>, retention: Duration) -> Self {
        Self {
            table,
            retention,
            bells: Bells::default(),
        }
    }

    /// Commits `writes` with the log entries of `changes`, all or nothing.
    /// A failed condition of one of `writes` comes back as
    /// `ConditionFailed` with its index, as from [`Table::transact`].
    /// Returns the user's last change number.
    pub async fn commit(
        &self,
        user: &UserId,
        writes: Vec<Write>,
        changes: &[Change],
    ) -> Result<u64, StoreError> {
        let mut read = Read::Eventual;
        for attempt in 0..ATTEMPTS {
            let seq = self.current(user, read).await?;
            let last = seq + changes.len() as u64;
            let counter_index = writes.len();
            let mut all = writes.clone();
            all.push(counter_write(user, seq, last));
            all.extend(entries(user, seq, changes, self.expiry()));
            match self.table.transact(all).await {
                Ok(()) => {
                    self.bells.ring(user);
                    return Ok(last);
                }
                Err(StoreError::ConditionFailed { index }) if index == counter_index => {}
                Err(StoreError::Contended) => backoff(attempt).await,
                Err(error) => return Err(error),
            }
            read = Read::Strong;
        }
        Err(StoreError::Contended)
    }

    /// The number of the user's last change (0 before the first).
    pub async fn current(&self, user: &UserId, read: Read) -> Result<u64, StoreError> {
        let item = self.table.get(&keys::sync_counter(user), read).await?;
        Ok(item
            .and_then(|counter| counter.get("seq").and_then(Value::as_u64))
            .unwrap_or(0))
    }

    /// Up to `limit` entries after number `since`, oldest first, read
    /// strongly; true when more follow.
    pub async fn since(
        &self,
        user: &UserId,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        let mut query = Query::partition(keys::user_partition(user));
        query.sort_prefix = keys::CHANGE_PREFIX.into();
        query.limit = limit;
        if since > 0 {
            query.cursor = Some(Cursor::at(&keys::change(user, since)));
        }
        let page = self.table.query(&query, Read::Strong).await?;
        let entries = page
            .items
            .iter()
            .map(store::decode)
            .collect::<Result<Vec<Entry>, _>>()
            .map_err(|e| StoreError::Internal(format!("unreadable change: {e}")))?;
        Ok((entries, page.next.is_some()))
    }

    /// A bell that rings when this instance commits a change of `user`'s.
    pub fn bell(&self, user: &UserId) -> Arc<Notify> {
        self.bells.bell(user)
    }

    fn expiry(&self) -> u64 {
        now_epoch() + self.retention.as_secs() + GRACE_SECS
    }
}

fn counter_write(user: &UserId, from: u64, to: u64) -> Write {
    let key = keys::sync_counter(user);
    let mut item = Item::new();
    item.insert("seq".into(), to.into());
    let condition = match from {
        0 => Condition::NotExists,
        _ => Condition::Equals {
            name: "seq".into(),
            value: from.into(),
        },
    };
    Write::Put {
        item: keyed(item, &key),
        condition,
    }
}

fn entries(user: &UserId, seq: u64, changes: &[Change], expires_at: u64) -> Vec<Write> {
    (seq + 1..)
        .zip(changes)
        .map(|(seq, change)| {
            let entry = match change {
                Change::Saved(todo) => Entry {
                    seq,
                    id: todo.id,
                    deleted: false,
                    todo: Some(todo.clone()),
                },
                Change::Deleted(id) => Entry {
                    seq,
                    id: *id,
                    deleted: true,
                    todo: None,
                },
            };
            let mut item = store::encode(&entry, &keys::change(user, seq));
            item.insert(store::attr::EXPIRES_AT.into(), expires_at.into());
            Write::Put {
                item,
                condition: Condition::None,
            }
        })
        .collect()
}

fn keyed(mut item: Item, key: &Key) -> Item {
    item.insert(store::attr::PK.into(), key.pk.clone().into());
    item.insert(store::attr::SK.into(), key.sk.clone().into());
    item
}

/// A short pause that grows with each try, so writers that collided don't
/// collide again in step.
async fn backoff(attempt: usize) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let jitter = u64::from(nanos % 7);
    tokio::time::sleep(Duration::from_millis((attempt as u64 + 1) * 5 + jitter)).await;
}

/// One [`Notify`] per user with someone waiting, dropped with its last
/// waiter.
#[derive(Default)]
struct Bells(Mutex<HashMap<UserId, Weak<Notify>>>);

impl Bells {
    fn bell(&self, user: &UserId) -> Arc<Notify> {
        let mut bells = self.0.lock().expect("bells lock");
        if let Some(bell) = bells.get(user).and_then(Weak::upgrade) {
            return bell;
        }
        if bells.len() >= 64 && bells.len().is_power_of_two() {
            bells.retain(|_, bell| bell.strong_count() > 0);
        }
        let bell = Arc::new(Notify::new());
        bells.insert(user.clone(), Arc::downgrade(&bell));
        bell
    }

    fn ring(&self, user: &UserId) {
        let bell = self
            .0
            .lock()
            .expect("bells lock")
            .get(user)
            .and_then(Weak::upgrade);
        if let Some(bell) = bell {
            bell.notify_waiters();
        }
    }
}
