//! `Idempotency-Key` on POST: a retried request gets the first response, and
//! nothing is created twice.
//!
//! The record of the first response is written in the same transaction as
//! what the request created, so the two can never disagree: either both exist
//! or neither does. A retry with the same key but a different body is a
//! client bug and answers 422. Records expire after 24 hours (`expires_at`).

use axum::extract::FromRequestParts;
use axum::http::{HeaderName, HeaderValue, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use crate::clock::now_epoch;
use crate::ids::UserId;
use crate::keys;
use crate::store::{Condition, Key, Read, Table, Write, attr};

/// How long a stored response is replayed.
const RETENTION_SECS: u64 = 24 * 3600;
const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, if it sent one.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value.to_str().unwrap_or("");
        let valid = !key.is_empty()
            && key.len() <= MAX_KEY_LEN
            && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(Some(key.to_string())))
        } else {
            Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )))
        }
    }
}

/// A response as first sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The record of one key for one user.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    fingerprint: String,
    response: StoredResponse,
}

/// A digest of what the request asked for, to tell a retry from a reuse.
pub fn fingerprint(request: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored response for this key, if the key was used before; 422 if it
/// was used for a different request.
pub async fn replay(
    table: &dyn Table,
    user: &UserId,
    key: &str,
    fingerprint: &str,
) -> Result<Option<StoredResponse>, ApiError> {
    replay_at(
        table,
        &keys::idempotency(user, key),
        fingerprint,
        "Idempotency-Key",
    )
    .await
}

/// The response recorded at `record_key`, if any; 422 naming `field` if it
/// was recorded for a different request.
pub async fn replay_at(
    table: &dyn Table,
    record_key: &Key,
    fingerprint: &str,
    field: &str,
) -> Result<Option<StoredResponse>, ApiError> {
    let Some(item) = table.get(record_key, Read::Strong).await? else {
        return Ok(None);
    };
    let record: Record = crate::store::decode(&item)
        .map_err(|e| ApiError::Internal(format!("unreadable idempotency record: {e}")))?;
    if record.fingerprint != fingerprint {
        return Err(ApiError::invalid(
            field,
            "this was already used for a different request",
        ));
    }
    Ok(Some(record.response))
}

/// The write that records `response` for this key; it fails its condition if
/// a concurrent request with the same key got there first.
pub fn record(user: &UserId, key: &str, fingerprint: String, response: StoredResponse) -> Write {
    record_at(
        keys::idempotency(user, key),
        fingerprint,
        response,
        RETENTION_SECS,
    )
}

/// The write that records `response` at `record_key` for `lifetime_secs`,
/// on condition that nothing is recorded there yet.
pub fn record_at(
    record_key: Key,
    fingerprint: String,
    response: StoredResponse,
    lifetime_secs: u64,
) -> Write {
    let record = Record {
        fingerprint,
        response,
    };
    let mut item = crate::store::encode(&record, &record_key);
    item.insert(
        attr::EXPIRES_AT.to_string(),
        Value::from(now_epoch() + lifetime_secs),
    );
    Write::Put {
        item,
        condition: Condition::NotExists,
    }
}
