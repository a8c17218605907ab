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
//! round trip; a stale copy costs a retry, which needs no read either: the
//! failed condition returns the counter it was checked against.
//!
//! Entries expire (DynamoDB TTL; the embedded store's purger) a day after
//! the retention, so a token younger than the retention always finds every
//! entry after it, even across clocks a little apart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::bells::Bells;
use super::model::Todo;
use crate::clock::now_epoch;
use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::store::{self, Condition, Cursor, Query, Read, StoreError, Table, Write};

/// How long entries outlive the retention, for clocks a little apart and
/// for a cache's view of the counter a little behind.
const GRACE_SECS: u64 = 86_400;

/// The clients remembered per user; a forgotten client's next mutation is
/// taken as its first.
const MAX_CLIENTS: usize = 64;

/// Tries at a write before giving up with 503 (nothing applied): each
/// failed try means another write of the same user committed meanwhile.
const ATTEMPTS: usize = 12;

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

/// A user's counter item: the number of their last change, a revision that
/// every write of the counter moves on (the condition of the next one), the
/// last mutation applied for each of their clients, and which log this is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    #[serde(default)]
    pub seq: u64,
    /// Drawn at random when the counter is created. Erasing an account
    /// (`DELETE /me`) deletes the counter with the log, and the next write
    /// starts a new log from 1 under a new number, so a token into the old
    /// log is told apart (410) however far the new one has counted.
    /// Counters from before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<u64>,
    #[serde(default)]
    rev: u64,
    #[serde(default)]
    clients: BTreeMap<String, ClientMark>,
}

/// Where one client stands: its last applied mutation, and when.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct ClientMark {
    mutation_id: u64,
    at: u64,
}

/// A client's numbered batch, as Replicache numbers them: each client's
/// mutation ids only grow, so each is applied once.
#[derive(Clone, Debug)]
pub struct Mutation {
    pub client_id: String,
    pub mutation_id: u64,
}

/// What [`Journal::commit_as`] did.
#[derive(Debug)]
pub enum Committed {
    /// Committed; the user's last change number.
    At(u64),
    /// Not committed: the client's record had already reached the mutation.
    Overtaken,
}

impl Counter {
    /// The last mutation applied for `client_id`, if the client is known.
    pub fn last_mutation(&self, client_id: &str) -> Option<u64> {
        self.clients.get(client_id).map(|mark| mark.mutation_id)
    }

    /// Each client's last applied mutation.
    pub fn mutations(&self) -> BTreeMap<String, u64> {
        let marks = self.clients.iter();
        marks
            .map(|(id, mark)| (id.clone(), mark.mutation_id))
            .collect()
    }

    /// The counter after `changes` more changes and `mutation`. The longest
    /// unused clients are forgotten past [`MAX_CLIENTS`].
    fn advanced(&self, changes: u64, mutation: Option<&Mutation>) -> Self {
        let mut next = self.clone();
        if self.rev == 0 {
            next.log = Some(random_u64());
        }
        next.seq += changes;
        next.rev += 1;
        if let Some(m) = mutation {
            let mark = ClientMark {
                mutation_id: m.mutation_id,
                at: now_epoch(),
            };
            next.clients.insert(m.client_id.clone(), mark);
            while next.clients.len() > MAX_CLIENTS {
                let oldest = next.clients.iter().min_by_key(|(_, mark)| mark.at);
                let oldest = oldest.map(|(id, _)| id.clone()).expect("not empty");
                next.clients.remove(&oldest);
            }
        }
        next
    }
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
        match self.commit_as(user, writes, changes, None).await? {
            Committed::At(seq) => Ok(seq),
            Committed::Overtaken => unreachable!("only a client's mutation is overtaken"),
        }
    }

    /// As [`Journal::commit`], and marks `mutation` applied for its client
    /// in the same transaction, unless the client's record has already
    /// reached it (a resent batch that another request applied meanwhile).
    pub async fn commit_as(
        &self,
        user: &UserId,
        writes: Vec<Write>,
        changes: &[Change],
        mutation: Option<&Mutation>,
    ) -> Result<Committed, StoreError> {
        // First through the cache. After a lost race, at once with the
        // counter the failed condition saw (one round trip, as the winner
        // spends). A writer that keeps losing is racing a busy one: it waits
        // a random, growing while, so as not to trail it in step, and reads
        // afresh.
        let mut known = None;
        for attempt in 0..ATTEMPTS {
            let before = match known.take() {
                Some(counter) => counter,
                None if attempt == 0 => self.counter(user, Read::Eventual).await?,
                None => self.counter(user, Read::Strong).await?,
            };
            if mutation.is_some_and(|m| before.last_mutation(&m.client_id) >= Some(m.mutation_id)) {
                return Ok(Committed::Overtaken);
            }
            let after = before.advanced(changes.len() as u64, mutation);
            let counter_index = writes.len();
            let mut all = writes.clone();
            all.push(counter_write(user, &before, &after));
            all.extend(entries(user, before.seq, changes, self.expiry()));
            match self.table.transact(all).await {
                Ok(()) => {
                    self.bells.ring(user);
                    return Ok(Committed::At(after.seq));
                }
                Err(StoreError::ConditionFailed { index, current }) if index == counter_index => {
                    if attempt < 2 {
                        known = current.as_deref().map(read_counter).transpose()?;
                    } else {
                        backoff(attempt).await;
                    }
                }
                Err(StoreError::Contended) => backoff(attempt).await,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Contended)
    }

    /// The user's counter: the last change number, and the last mutation
    /// applied for each of their clients.
    pub async fn counter(&self, user: &UserId, read: Read) -> Result<Counter, StoreError> {
        match self.table.get(&keys::sync_counter(user), read).await? {
            None => Ok(Counter::default()),
            Some(item) => read_counter(&item),
        }
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

/// The counter moved from `before` to `after`, on condition that nobody
/// moved it since `before` was read.
fn counter_write(user: &UserId, before: &Counter, after: &Counter) -> Write {
    let condition = match before.rev {
        0 => Condition::NotExists,
        rev => Condition::Equals {
            name: "rev".into(),
            value: rev.into(),
        },
    };
    Write::Put {
        item: store::encode(after, &keys::sync_counter(user)),
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

fn read_counter(item: &store::Item) -> Result<Counter, StoreError> {
    store::decode(item).map_err(|e| StoreError::Internal(format!("unreadable sync counter: {e}")))
}

/// A pause of random length up to a ceiling that doubles with each try
/// (5 ms, 10, 20 … at most 160), so writers that collided don't collide
/// again in step ("full jitter").
async fn backoff(attempt: usize) {
    let ceiling_ms = 5u64 << attempt.min(5);
    let draw = random_u64() % (ceiling_ms + 1);
    tokio::time::sleep(Duration::from_millis(draw)).await;
}

/// A random number; from the clock if the system has no randomness to give
/// (never seen on Linux), which still differs between logs and writers.
fn random_u64() -> u64 {
    let mut random = [0u8; 8];
    match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64),
    }
}
