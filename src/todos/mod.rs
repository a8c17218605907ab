//! The to-do list API: each signed-in user reads and writes only their own
//! todos. Reads go through the table's cache, so a busy app mostly reads
//! memory; writes are conditional, so concurrent edits never overwrite each
//! other silently.

mod handlers;
pub mod model;

use std::sync::Arc;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::store::Table;

/// What the todo routes use.
#[derive(Clone)]
pub struct TodosState {
    /// The table, behind its read cache.
    pub table: Arc<dyn Table>,
}

/// The `/todos` routes.
pub fn router() -> OpenApiRouter<TodosState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_todos, handlers::create_todo))
        .routes(routes!(
            handlers::get_todo,
            handlers::update_todo,
            handlers::delete_todo
        ))
}
