//! `GET /todos/changes`: delta sync for a device that was offline.
//!
//! The first call (no `since`) pages through a snapshot of the live todos,
//! taken at the user's change number when it started; after its last page
//! the token moves to that number, so whatever changed while the snapshot
//! was read comes next, from the [`journal`](super::journal). Each answer
//! holds each todo at most once, in its latest state within the answer.
//!
//! With `wait`, a call that finds nothing new waits for a change: it wakes
//! at once for a write through this instance, and on a shared table
//! (DynamoDB) checks the table every [`SyncRules::poll`](super::SyncRules)
//! for the writes of other instances.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use super::TodosState;
use super::journal::{Counter, Entry};
use super::model::{self, Todo};
use super::token::{Position, SyncToken};
use crate::clock::now_epoch;
use crate::http::auth::User;
use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::listing::page_limit;
use crate::http::openapi::ProblemResponse;
use crate::ids::TodoId;
use crate::keys;
use crate::store::{Cursor, Query, Read};

/// The longest `wait` a client may ask for, in seconds.
pub const MAX_WAIT_SECS: u32 = 30;

/// Query parameters of `GET /todos/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// `next` from the previous answer; leave it out to start with a full
    /// snapshot.
    since: Option<String>,
    /// Changes per answer, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Seconds to wait for a change if there is none yet, 0 to 30 (default
    /// 0). The answer comes as soon as a change exists, and never later
    /// than the request timeout allows.
    #[param(minimum = 0, maximum = 30)]
    wait: Option<u32>,
}

/// One answer of `GET /todos/changes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changes {
    /// Each changed todo once, oldest change first.
    pub changes: Vec<TodoChange>,
    /// The token for the next call: keep it and send it as `since`.
    pub next: String,
    /// True when more changes are ready now: call again with `next` at once.
    pub more: bool,
    /// The last `mutation_id` applied for each of your clients (see
    /// `POST /todos/batch`), so a device that lost an answer knows which of
    /// its queued batches are done.
    pub clients: BTreeMap<String, u64>,
}

/// A todo as it now is, or the news that it was deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct TodoChange {
    #[schema(value_type = String)]
    pub id: TodoId,
    pub deleted: bool,
    /// The todo as `GET /todos/{id}` returns it; absent when deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub todo: Option<Todo>,
}

/// What changed in your todos since a token, for offline sync. Without
/// `since`: a snapshot of every todo, in pages. Follow `next` while `more`
/// is true; keep the last `next` for the next sync. 410 when the token is
/// older than the service remembers deletions (30 days by default): start
/// again without `since`.
#[utoipa::path(get, path = "/todos/changes", tag = "todos", params(ChangesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Changes),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 410, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn todo_changes(
    State(state): State<TodosState>,
    user: User,
    ApiQuery(params): ApiQuery<ChangesParams>,
) -> Result<axum::Json<Changes>, ApiError> {
    let limit = page_limit(params.limit, 100, 1000)?;
    let wait = wait_for(params.wait, state.sync.longest_wait)?;
    let key = state.token_key().await?;
    let now = now_epoch();
    let token = match &params.since {
        Some(text) => open_token(&state, &user, text).await?,
        None => {
            let counter = state.journal.counter(user.id(), Read::Strong).await?;
            SyncToken {
                position: Position::Snapshot {
                    base: counter.seq,
                    after: None,
                },
                issued: now,
                log: counter.log,
            }
        }
    };
    let step = match token.position {
        // The snapshot's number was read when it began.
        Position::Snapshot { base, after } => {
            let at = Mark {
                seq: base,
                log: token.log,
            };
            snapshot(&state, &user, (at, token.issued), after, limit).await?
        }
        Position::Delta { since } => {
            let at = Mark {
                seq: since,
                log: token.log,
            };
            delta(&state, &user, at, limit, wait).await?
        }
    };
    Ok(axum::Json(Changes {
        changes: step.changes,
        next: key.seal(
            user.id(),
            &SyncToken {
                position: step.next,
                issued: step.issued,
                log: step.counter.log,
            },
        ),
        more: step.more,
        clients: step.counter.mutations(),
    }))
}

/// One answer before its token is sealed.
pub(super) struct Step {
    pub changes: Vec<TodoChange>,
    pub next: Position,
    pub issued: u64,
    pub more: bool,
    /// The user's counter as last read.
    pub counter: Counter,
}

/// A change of one log: where a token stands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    pub seq: u64,
    /// The log's number ([`Counter::log`]).
    pub log: Option<u64>,
}

impl Mark {
    /// 410 when the log the mark is in was erased and another begun since.
    /// A mark at 0 has seen nothing of any log, so it stands in any.
    fn check_in(&self, counter: &Counter) -> Result<(), ApiError> {
        if self.seq > 0 && self.log != counter.log {
            return Err(ApiError::Gone(
                "the todos this token followed were erased; sync again without `since`".into(),
            ));
        }
        Ok(())
    }
}

/// The next page of the snapshot taken at change `base` at time `issued`.
async fn snapshot(
    state: &TodosState,
    user: &User,
    (at, issued): (Mark, u64),
    after: Option<TodoId>,
    limit: usize,
) -> Result<Step, ApiError> {
    let base = at.seq;
    let mut query = Query::partition(keys::user_partition(user.id()));
    query.sort_prefix = keys::TODO_PREFIX.into();
    query.limit = limit;
    query.cursor = after.map(|id| Cursor::at(&keys::todo(user.id(), id)));
    let page = state.table.query(&query, Read::Strong).await?;
    let todos = page
        .items
        .iter()
        .map(model::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let counter = state.journal.counter(user.id(), Read::Strong).await?;
    at.check_in(&counter)?;
    let (next, more) = match (page.next, todos.last()) {
        (Some(_), Some(last)) => (
            Position::Snapshot {
                base,
                after: Some(last.id),
            },
            true,
        ),
        _ => (Position::Delta { since: base }, counter.seq > base),
    };
    Ok(Step {
        changes: todos.into_iter().map(saved).collect(),
        next,
        issued,
        more,
        counter,
    })
}

/// The changes after number `since`, waiting up to `wait` for one.
pub(super) async fn delta(
    state: &TodosState,
    user: &User,
    at: Mark,
    limit: usize,
    wait: Duration,
) -> Result<Step, ApiError> {
    let since = at.seq;
    let deadline = Instant::now() + wait;
    let bell = state.journal.bell(user.id());
    loop {
        // Listening before looking, so a write in between still wakes us.
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let issued = now_epoch();
        let counter = state.journal.counter(user.id(), Read::Strong).await?;
        at.check_in(&counter)?;
        let current = counter.seq;
        if current < since {
            return Err(ApiError::Gone(
                "the change log was reset (a restored table?); sync again without `since`".into(),
            ));
        }
        if current > since {
            let (entries, more) = state.journal.since(user.id(), since, limit).await?;
            let Some(last) = entries.last().map(|entry| entry.seq) else {
                return Err(too_old());
            };
            return Ok(Step {
                changes: latest(entries),
                next: Position::Delta { since: last },
                issued,
                more,
                counter,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Step {
                changes: Vec::new(),
                next: Position::Delta { since },
                issued,
                more: false,
                counter,
            });
        }
        let pause = state.sync.poll.map_or(left, |poll| left.min(poll));
        tokio::select! {
            () = &mut rung => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Each todo once, at its last entry, in the order of those entries.
fn latest(entries: Vec<Entry>) -> Vec<TodoChange> {
    let mut seen = HashSet::new();
    let mut changes: Vec<TodoChange> = entries
        .into_iter()
        .rev()
        .filter(|entry| seen.insert(entry.id))
        .map(|entry| TodoChange {
            id: entry.id,
            deleted: entry.deleted,
            todo: entry.todo,
        })
        .collect();
    changes.reverse();
    changes
}

fn saved(todo: Todo) -> TodoChange {
    TodoChange {
        id: todo.id,
        deleted: false,
        todo: Some(todo),
    }
}

/// `wait` as a duration, no longer than the request may last.
fn wait_for(wait: Option<u32>, longest: Duration) -> Result<Duration, ApiError> {
    match wait.unwrap_or(0) {
        secs @ 0..=MAX_WAIT_SECS => Ok(Duration::from_secs(secs.into()).min(longest)),
        _ => Err(ApiError::invalid(
            "wait",
            format!("must be between 0 and {MAX_WAIT_SECS}"),
        )),
    }
}

/// The sync token in `text`: 400 unless this service sealed it for the
/// caller, 410 once it is older than the service keeps deletions.
pub(super) async fn open_token(
    state: &TodosState,
    user: &User,
    text: &str,
) -> Result<SyncToken, ApiError> {
    let key = state.token_key().await?;
    let token = key
        .open(user.id(), text)
        .map_err(|_| ApiError::BadRequest("`since` is not a sync token of yours".into()))?;
    if now_epoch().saturating_sub(token.issued) > state.sync.retention.as_secs() {
        return Err(too_old());
    }
    Ok(token)
}

fn too_old() -> ApiError {
    ApiError::Gone(
        "this sync token is older than the service keeps deletions; sync again without `since`"
            .into(),
    )
}
