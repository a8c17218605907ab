//! HTTP handlers for `/todos`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::TodosState;
use super::journal::Change;
use super::model::{self, CreateTodo, Todo, TodoIdText, UpdateTodo};
use crate::http::auth::User;
use crate::http::conditional::{IfMatch, IfNoneMatch, VersionedWrite, etag, etag_header};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, IdempotencyKey, StoredResponse};
use crate::http::listing::{Listing, page_limit};
use crate::http::openapi::ProblemResponse;
use crate::ids::TodoId;
use crate::keys;
use crate::store::{Condition, Cursor, Query, Read, StoreError, Write};

/// The JSON limit of a todo's writes: room for every todo within the field
/// limits however its text is escaped (10,000 characters of notes as
/// `\uXXXX` surrogate pairs are 120,000 bytes), so the limits a client
/// checks are the characters of each field.
pub const TODO_JSON_LIMIT: usize = 256 * 1024;

/// Query parameters of `GET /todos`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only completed (`true`) or open (`false`) todos.
    completed: Option<bool>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// List your todos, oldest first.
#[utoipa::path(get, path = "/todos", tag = "todos", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Listing<Todo>),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn list_todos(
    State(state): State<TodosState>,
    user: User,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<Listing<Todo>>, ApiError> {
    let mut query = Query::partition(keys::user_partition(user.id()));
    query.sort_prefix = keys::TODO_PREFIX.into();
    query.limit = page_limit(params.limit, 50, 100)?;
    query.filter = params
        .completed
        .map(|c| ("completed".into(), c.to_string()));
    query.cursor = params.cursor.as_deref().map(Cursor::decode).transpose()?;
    let page = state.table.query(&query, Read::Eventual).await?;
    Ok(axum::Json(Listing::of(page, model::from_item)?))
}

/// Create a todo. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/todos", tag = "todos", request_body = CreateTodo,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$",
        description = "1 to 255 visible ASCII characters; retries with the same key return the first response")),
    responses(
        (status = 201, body = Todo, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn create_todo(
    State(state): State<TodosState>,
    user: User,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    ApiJson(input): ApiJson<CreateTodo, TODO_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    let fingerprint = idempotency::fingerprint(&input);
    let todo = input.into_todo(TodoId::new())?;
    let owner = user.id();
    let put = Write::Put {
        item: model::to_item(owner, &todo),
        condition: Condition::NotExists,
    };
    let change = [Change::Saved(todo.clone())];
    let Some(key) = idempotency_key else {
        state.journal.commit(owner, vec![put], &change).await?;
        return Ok(created(&todo).into_response());
    };
    if let Some(first) =
        idempotency::replay(state.table.as_ref(), owner, &key, &fingerprint).await?
    {
        return Ok(first.into_response());
    }
    let response = created(&todo);
    let record = idempotency::record(owner, &key, fingerprint.clone(), response.clone());
    match state
        .journal
        .commit(owner, vec![put, record], &change)
        .await
    {
        Ok(_) => Ok(response.into_response()),
        // A concurrent request with the same key won the race: answer as it did.
        Err(StoreError::ConditionFailed { index: 1, .. }) => {
            idempotency::replay(state.table.as_ref(), owner, &key, &fingerprint)
                .await?
                .map(IntoResponse::into_response)
                .ok_or_else(|| {
                    ApiError::Conflict("concurrent request with the same Idempotency-Key".into())
                })
        }
        Err(e) => Err(e.into()),
    }
}

fn created(todo: &Todo) -> StoredResponse {
    StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        headers: vec![
            (header::LOCATION.to_string(), format!("/todos/{}", todo.id)),
            (header::ETAG.to_string(), etag(todo.version)),
        ],
        body: serde_json::to_value(todo).expect("a todo serializes"),
    }
}

/// Create a todo under an id your device made, e.g. while offline: a ULID
/// or a UUID, sent back exactly as their libraries write them (ULIDs in
/// upper case, UUIDs in lower case). Send `If-None-Match: *`; 412 when you
/// already have a todo with this id (with that todo, to merge), so a
/// retried PUT never makes two. Todos with ULIDs list in creation order;
/// UUIDs sort by their text.
#[utoipa::path(put, path = "/todos/{id}", tag = "todos", request_body = CreateTodo,
    params(("id" = TodoIdText, Path, description = "a ULID or a UUID"),
        ("If-None-Match" = String, Header, pattern = r"^\*$", description = "`*`: create only")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = Todo, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        (status = 428, response = ProblemResponse),
    ))]
pub async fn put_todo(
    State(state): State<TodosState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    if_none_match: IfNoneMatch,
    ApiJson(input): ApiJson<CreateTodo, TODO_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    if !if_none_match.is_any() {
        return Err(ApiError::PreconditionRequired(
            "send `If-None-Match: *` to create a todo under your own id; change one with PATCH"
                .into(),
        ));
    }
    let id: TodoId = id
        .parse()
        .map_err(|e| ApiError::invalid("id", format!("{e}")))?;
    let todo = input.into_todo(id)?;
    let put = Write::Put {
        item: model::to_item(user.id(), &todo),
        condition: Condition::NotExists,
    };
    let change = [Change::Saved(todo.clone())];
    match state.journal.commit(user.id(), vec![put], &change).await {
        Ok(_) => Ok(created(&todo).into_response()),
        Err(StoreError::ConditionFailed { .. }) => {
            let current = load(&state, &user, id, Read::Strong).await?;
            Err(model::superseded(
                format!("you already have a todo {id}"),
                &current,
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// Read one of your todos. Sends 304 when `If-None-Match` has its ETag.
#[utoipa::path(get, path = "/todos/{id}", tag = "todos", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Todo, headers(("ETag" = String))),
        (status = 304),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    ))]
pub async fn get_todo(
    State(state): State<TodosState>,
    user: User,
    ApiPath(id): ApiPath<TodoId>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let todo = load(&state, &user, id, Read::Eventual).await?;
    let tag = etag_header(todo.version);
    if if_none_match.hits(tag.to_str().unwrap_or_default()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok(([(header::ETAG, tag)], axum::Json(todo)).into_response())
}

/// Change some fields of one of your todos. Send `If-Match` with the ETag you
/// read to be sure nobody changed it since (412 if they did).
#[utoipa::path(patch, path = "/todos/{id}", tag = "todos", params(("id" = String, Path)),
    request_body = UpdateTodo, security(("bearer" = [])),
    responses(
        (status = 200, body = Todo, headers(("ETag" = String))),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn update_todo(
    State(state): State<TodosState>,
    user: User,
    ApiPath(id): ApiPath<TodoId>,
    if_match: IfMatch,
    ApiJson(change): ApiJson<UpdateTodo, TODO_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    let (state, user, if_match) = (&state, &user, &if_match);
    on_latest(state, user, id, |current| {
        let change = change.clone();
        async move {
            let guard = if_match.check(&etag(current.version), "todo")?;
            let expected = current.version;
            let updated = change.apply_to(current)?;
            let put = Write::Put {
                item: model::to_item(user.id(), &updated),
                condition: Condition::version_is(expected),
            };
            let logged = Change::Saved(updated.clone());
            commit_versioned(state, user, put, logged, guard).await?;
            Ok(with_etag(&updated))
        }
    })
    .await
}

/// Delete one of your todos (`If-Match` optional, as for PATCH).
#[utoipa::path(delete, path = "/todos/{id}", tag = "todos", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
    ))]
pub async fn delete_todo(
    State(state): State<TodosState>,
    user: User,
    ApiPath(id): ApiPath<TodoId>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let (state, user, if_match) = (&state, &user, &if_match);
    on_latest(state, user, id, |current| async move {
        let guard = if_match.check(&etag(current.version), "todo")?;
        let delete = Write::Delete {
            key: keys::todo(user.id(), id),
            condition: Condition::version_is(current.version),
        };
        commit_versioned(state, user, delete, Change::Deleted(id), guard).await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Commits one write of a todo read at some version, with its log entry; a
/// todo that moved on meanwhile is `guard`'s 412 or 409.
async fn commit_versioned(
    state: &TodosState,
    user: &User,
    write: Write,
    change: Change,
    guard: VersionedWrite,
) -> Result<(), ApiError> {
    match state
        .journal
        .commit(user.id(), vec![write], &[change])
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(guard.refused()),
        Err(error) => Err(error.into()),
    }
}

/// Runs a read-modify-write on the cached todo, then once more on the
/// latest if the cached copy may have been stale: another instance wrote
/// since (this one's writes keep its cache current). Every write is
/// conditional on the version it read, so a stale copy costs a retry,
/// never a lost update, and the usual PATCH or DELETE makes no backend read
/// before its write.
async fn on_latest<T, F, Fut>(
    state: &TodosState,
    user: &User,
    id: TodoId,
    mut attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut(Todo) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let first = match load(state, user, id, Read::Eventual).await {
        Ok(cached) => attempt(cached).await,
        Err(e) => Err(e),
    };
    match first {
        Err(ApiError::NotFound | ApiError::PreconditionFailed(_) | ApiError::Conflict(_)) => {
            let latest = load(state, user, id, Read::Strong).await?;
            let current = latest.clone();
            attempt(latest).await.map_err(|error| match error {
                ApiError::PreconditionFailed(detail) => model::superseded(detail, &current),
                other => other,
            })
        }
        result => result,
    }
}

/// The caller's todo `id`; 404 for a missing todo and another user's todo
/// alike (and, through [`ApiPath`], a malformed id), so ids can't be probed.
async fn load(state: &TodosState, user: &User, id: TodoId, read: Read) -> Result<Todo, ApiError> {
    let item = state.table.get(&keys::todo(user.id(), id), read).await?;
    let item = item.ok_or(ApiError::NotFound)?;
    model::from_item(&item)
}

fn with_etag(todo: &Todo) -> Response {
    (
        [(header::ETAG, etag_header(todo.version))],
        axum::Json(todo),
    )
        .into_response()
}
