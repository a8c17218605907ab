//! `POST /todos/batch`: up to 25 todo writes, all or nothing, as a device
//! sends the queue it kept while offline.
//!
//! Operations apply in order to the todos as they are when the batch
//! begins, so one batch may create a todo, edit it and delete it. The store
//! then gets one write per todo (its state after the last operation), each
//! on condition that nobody changed it since it was read, and the change
//! log's entries in the same transaction ([`super::journal`]). If another
//! writer changed one of those todos meanwhile, the batch starts over on
//! fresh reads: it is never half applied, and never applied over a change
//! it did not see.
//!
//! With `client_id` and `mutation_id` (Replicache's numbering), each
//! client's batches apply once and in order: a resent or older mutation
//! gets its first answer, a gap is refused with 409, and
//! `GET /todos/changes` reports each client's last applied mutation. The
//! answers are kept as long as deletions are (`APP_SYNC_RETENTION`).

mod plan;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TodosState;
use super::journal::{Committed, Mutation};
use super::model::{CreateTodo, Todo, TodoIdText, UpdateTodo};
use crate::http::auth::User;
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::idempotency::{self, IdempotencyKey, StoredResponse};
use crate::http::openapi::ProblemResponse;
use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::store::{Read, StoreError, Write};

/// The most operations in one batch.
pub const MAX_OPERATIONS: usize = 25;

/// The JSON limit of a batch: 25 todos' worth of the single-write limit,
/// rounded down (the field limits still apply to each todo).
pub const BATCH_JSON_LIMIT: usize = 4 * 1024 * 1024;

/// How often a batch starts over because its todos changed under it.
const ATTEMPTS: usize = 4;

/// Kept answers larger than this keep only each todo's id and version
/// (a DynamoDB item holds at most 400 KB).
const KEPT_ANSWER_MAX_BYTES: usize = 300_000;

/// `POST /todos/batch`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// 1 to 25 operations, applied in order, all or nothing.
    #[schema(min_items = 1, max_items = 25)]
    pub operations: Vec<Operation>,
    /// Your device's name for its queue: 1 to 64 letters, digits, `-` or
    /// `_`. Send it with `mutation_id`.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: Option<String>,
    /// This batch's number in the client's queue: one more than the last
    /// applied (any number for a client the service does not know yet).
    #[schema(minimum = 1)]
    pub mutation_id: Option<u64>,
}

/// One write of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    /// Create a todo, under `id` if given (a ULID or UUID your device made).
    Create {
        #[serde(default)]
        #[schema(value_type = Option<TodoIdText>)]
        id: Option<TodoId>,
        todo: CreateTodo,
    },
    /// Change some fields, as `PATCH /todos/{id}` does; only if the todo is
    /// still at `if_version`, when given.
    Update {
        #[schema(value_type = TodoIdText)]
        id: TodoId,
        #[serde(default)]
        #[schema(minimum = 1)]
        if_version: Option<u64>,
        changes: UpdateTodo,
    },
    /// Delete a todo; only if it is still at `if_version`, when given.
    Delete {
        #[schema(value_type = TodoIdText)]
        id: TodoId,
        #[serde(default)]
        #[schema(minimum = 1)]
        if_version: Option<u64>,
    },
}

/// What one operation did, in the order sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Outcome {
    Create {
        todo: Todo,
    },
    Update {
        todo: Todo,
    },
    Delete {
        #[schema(value_type = String)]
        id: TodoId,
    },
}

/// The answer to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResults {
    pub results: Vec<Outcome>,
    /// Only in the answer to a resent batch whose first answer was too large
    /// to keep whole: each todo is cut to its `id` and `version`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub abridged: bool,
}

/// Apply up to 25 creates, updates and deletes at once, all or nothing
/// (the error names the first operation that failed, by its index, and
/// nothing is applied). Send `Idempotency-Key`, or `client_id` with a
/// growing `mutation_id`, to make resending safe.
#[utoipa::path(post, path = "/todos/batch", tag = "todos", request_body = Batch,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$",
        description = "1 to 255 visible ASCII characters; retries with the same key return the first response")),
    responses(
        (status = 200, body = BatchResults),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 410, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn batch_todos(
    State(state): State<TodosState>,
    user: User,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(batch): ApiJson<Batch, BATCH_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    let mutation = batch.checked()?;
    let fingerprint = idempotency::fingerprint(&batch);
    for _ in 0..ATTEMPTS {
        if let Some(key) = &key
            && let Some(first) =
                idempotency::replay(state.table.as_ref(), user.id(), key, &fingerprint).await?
        {
            return Ok(first.into_response());
        }
        if let Some(mutation) = &mutation
            && let Some(first) = replay_mutation(&state, user.id(), mutation, &fingerprint).await?
        {
            return Ok(first.into_response());
        }
        let plan = plan::evaluate(&state, user.id(), &batch.operations).await?;
        let answer = StoredResponse {
            status: StatusCode::OK.as_u16(),
            headers: Vec::new(),
            body: serde_json::to_value(BatchResults {
                results: plan.outcomes,
                abridged: false,
            })
            .expect("results serialize"),
        };
        let mut writes = plan.writes;
        let kept = kept_answer(&answer);
        writes.extend(records(
            &state,
            user.id(),
            (&key, &mutation),
            &fingerprint,
            kept,
        ));
        let journal = &state.journal;
        match journal
            .commit_as(user.id(), writes, &plan.changes, mutation.as_ref())
            .await
        {
            Ok(Committed::At(_)) => return Ok(answer.into_response()),
            // A concurrent request applied this batch (its record is there)
            // or changed a todo it read: look again.
            Ok(Committed::Overtaken) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(
        "the todos kept changing while the batch was applied; send it again".into(),
    ))
}

/// The writes that keep `answer` for a resend: under the client's
/// mutation, and under the `Idempotency-Key`, as the request has them.
fn records(
    state: &TodosState,
    user: &UserId,
    (key, mutation): (&Option<String>, &Option<Mutation>),
    fingerprint: &str,
    answer: StoredResponse,
) -> Vec<Write> {
    let mut writes = Vec::new();
    if let Some(m) = mutation {
        let at = keys::mutation(user, &m.client_id, m.mutation_id);
        let lifetime = state.sync.retention.as_secs();
        let record = idempotency::record_at(at, fingerprint.into(), answer.clone(), lifetime);
        writes.push(record);
    }
    if let Some(key) = key {
        writes.push(idempotency::record(user, key, fingerprint.into(), answer));
    }
    writes
}

impl Batch {
    /// The batch's size and numbering checked; its mutation, if numbered.
    fn checked(&self) -> Result<Option<Mutation>, ApiError> {
        if !(1..=MAX_OPERATIONS).contains(&self.operations.len()) {
            return Err(ApiError::invalid(
                "operations",
                format!("must hold 1 to {MAX_OPERATIONS} operations"),
            ));
        }
        match (&self.client_id, self.mutation_id) {
            (None, None) => Ok(None),
            (Some(client), Some(mutation_id)) => {
                let valid_client = (1..=64).contains(&client.len())
                    && client
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid_client {
                    return Err(ApiError::invalid(
                        "client_id",
                        "must be 1 to 64 letters, digits, `-` or `_`",
                    ));
                }
                if mutation_id == 0 {
                    return Err(ApiError::invalid("mutation_id", "must be 1 or more"));
                }
                Ok(Some(Mutation {
                    client_id: client.clone(),
                    mutation_id,
                }))
            }
            (Some(_), None) => Err(ApiError::invalid(
                "mutation_id",
                "is required with client_id",
            )),
            (None, Some(_)) => Err(ApiError::invalid(
                "client_id",
                "is required with mutation_id",
            )),
        }
    }
}

/// The first answer to `mutation` if its client is already past it; 409 if
/// it skips one; `None` when it is the client's next.
async fn replay_mutation(
    state: &TodosState,
    user: &UserId,
    mutation: &Mutation,
    fingerprint: &str,
) -> Result<Option<StoredResponse>, ApiError> {
    let counter = state.journal.counter(user, Read::Strong).await?;
    let Some(last) = counter.last_mutation(&mutation.client_id) else {
        return Ok(None);
    };
    let wanted = mutation.mutation_id;
    if wanted == last + 1 {
        return Ok(None);
    }
    if wanted > last + 1 {
        return Err(ApiError::Conflict(format!(
            "mutation_id {wanted} skips ahead: the last applied for client `{}` is {last}, so the next is {}",
            mutation.client_id,
            last + 1
        )));
    }
    let at = keys::mutation(user, &mutation.client_id, wanted);
    let first =
        idempotency::replay_at(state.table.as_ref(), &at, fingerprint, "mutation_id").await?;
    first.map(Some).ok_or_else(|| {
        ApiError::Gone(format!(
            "mutation {wanted} was applied longer ago than its answer is kept"
        ))
    })
}

/// The answer as kept for a resend: whole if it fits an item, else with
/// each todo cut to its id and version, marked `"abridged": true`.
fn kept_answer(answer: &StoredResponse) -> StoredResponse {
    let size = serde_json::to_vec(&answer.body).map_or(0, |bytes| bytes.len());
    if size <= KEPT_ANSWER_MAX_BYTES {
        return answer.clone();
    }
    let mut body = answer.body.clone();
    if let Some(results) = body["results"].as_array_mut() {
        for result in results {
            if let Some(todo) = result.get_mut("todo") {
                *todo = serde_json::json!({ "id": todo["id"], "version": todo["version"] });
            }
        }
    }
    body["abridged"] = true.into();
    StoredResponse {
        body,
        ..answer.clone()
    }
}
