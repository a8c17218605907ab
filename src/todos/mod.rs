//! The to-do list API: each signed-in user reads and writes only their own
//! todos. Reads go through the table's cache, so a busy app mostly reads
//! memory; writes are conditional, so concurrent edits never overwrite each
//! other silently.

mod batch;
mod bells;
mod changes;
mod events;
mod handlers;
mod journal;
pub mod model;
mod token;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::store::{StoreError, Table};
use journal::Journal;
use token::TokenKey;

/// What the todo routes use.
#[derive(Clone)]
pub struct TodosState {
    /// The table, behind its read cache.
    table: Arc<dyn Table>,
    /// Numbers and logs every change, for sync.
    journal: Arc<Journal>,
    /// The sync tokens' key, read from the table on first use.
    token_key: Arc<OnceCell<TokenKey>>,
    sync: SyncRules,
}

/// How sync behaves.
#[derive(Clone, Debug)]
pub struct SyncRules {
    /// How long deletions are remembered; older tokens get 410.
    pub retention: Duration,
    /// The longest a sync call may wait for a change (within the request
    /// timeout).
    pub longest_wait: Duration,
    /// How often a waiting call checks the table for other instances'
    /// writes; `None` when no other instance can write (the embedded store
    /// belongs to one process), so only this instance's writes wake it.
    pub poll: Option<Duration>,
}

impl TodosState {
    pub fn new(table: Arc<dyn Table>, sync: SyncRules) -> Self {
        Self {
            journal: Arc::new(Journal::new(table.clone(), sync.retention)),
            table,
            token_key: Arc::new(OnceCell::new()),
            sync,
        }
    }

    async fn token_key(&self) -> Result<&TokenKey, StoreError> {
        self.token_key
            .get_or_try_init(|| TokenKey::load(self.table.as_ref()))
            .await
    }
}

/// The `/todos` routes; `streams` where an answer can stream (not on
/// Lambda), which adds `GET /todos/events`.
pub fn router(streams: bool) -> OpenApiRouter<TodosState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(handlers::list_todos, handlers::create_todo))
        .routes(routes!(changes::todo_changes))
        .routes(routes!(batch::batch_todos))
        .routes(routes!(
            handlers::get_todo,
            handlers::put_todo,
            handlers::update_todo,
            handlers::delete_todo
        ));
    match streams {
        true => routes.routes(routes!(events::todo_events)),
        false => routes,
    }
}
