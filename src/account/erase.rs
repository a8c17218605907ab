//! `DELETE /me`: every item of the caller's partition, the posts it points
//! at, and every object under the caller's folders.
//!
//! Safe to repeat after a crash or a 503 half-way: each round reads what is
//! left of the partition (strongly, so nothing deleted is seen again) and
//! deletes it without conditions, and the objects go last, by listing the
//! folders rather than from the records, so files whose records went in an
//! earlier attempt go too. A second call finds nothing and answers 204.

use axum::extract::State;
use axum::http::StatusCode;

use super::AccountState;
use crate::blog;
use crate::http::auth::User;
use crate::http::error::ApiError;
use crate::http::openapi::ProblemResponse;
use crate::ids::UserId;
use crate::keys;
use crate::store::{Condition, Item, Key, Query, Read, Write};

/// Items read and deleted per round.
const ROUND: usize = 500;

/// The most writes DynamoDB takes in one transaction: each transaction is
/// a round trip, and a commit to disk on the embedded store.
const WRITES_PER_TRANSACTION: usize = 100;

/// Erase your account's data: todos and their sync history, uploads and
/// their files, the posts you wrote, everything kept for retries. Others'
/// data is untouched. Repeatable: after a 503, call again. The app then
/// deletes the Cognito user itself (Cognito's `DeleteUser`).
#[utoipa::path(delete, path = "/me", tag = "system", security(("bearer" = [])), responses(
    (status = 204),
    (status = 401, response = ProblemResponse),
    (status = 503, response = ProblemResponse),
))]
pub async fn erase(State(state): State<AccountState>, user: User) -> Result<StatusCode, ApiError> {
    let owner = user.id();
    loop {
        let mut query = Query::partition(keys::user_partition(owner));
        query.limit = ROUND;
        let page = state.table.query(&query, Read::Strong).await?;
        if page.items.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        for item in &page.items {
            writes.extend(deletions(&state, owner, item).await?);
        }
        for chunk in writes.chunks(WRITES_PER_TRANSACTION) {
            state.table.transact(chunk.to_vec()).await?;
        }
    }
    for prefix in keys::user_object_prefixes(owner) {
        for object in state.objects.list(&prefix).await? {
            state.objects.delete(&object.key).await?;
        }
    }
    tracing::info!(user = %owner, "account data erased");
    Ok(StatusCode::NO_CONTENT)
}

/// What erasing one item of the caller's partition deletes: the item, and
/// for a pointer to a post, the post if the caller still wrote it.
async fn deletions(
    state: &AccountState,
    owner: &UserId,
    item: &Item,
) -> Result<Vec<Write>, ApiError> {
    let key = Key::of(item).ok_or_else(|| ApiError::Internal("an item without its keys".into()))?;
    let mut writes = Vec::with_capacity(2);
    if let Some(slug) = keys::authored_slug(&key.sk) {
        let post_key = keys::post(&slug);
        let post = state.table.get(&post_key, Read::Strong).await?;
        let still_theirs = match post {
            Some(item) => blog::model::from_item(&item)?.author == *owner,
            None => false,
        };
        if still_theirs {
            writes.push(Write::Delete {
                key: post_key,
                condition: Condition::None,
            });
        }
    }
    writes.push(Write::Delete {
        key,
        condition: Condition::None,
    });
    Ok(writes)
}
