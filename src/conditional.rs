//! Conditional requests (RFC 9110): strong ETags (from an item's version, or
//! from a response's bytes), `If-Match` for safe updates and
//! `If-None-Match` for cheap re-reads.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};

use crate::error::ApiError;
use crate::store::Condition;

/// The strong ETag of a representation at `version`.
pub fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

pub fn etag_header(version: u64) -> HeaderValue {
    HeaderValue::try_from(etag(version)).expect("an ETag is a valid header value")
}

/// The strong ETag of exactly these response bytes.
pub fn content_etag(body: &[u8]) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]);
    format!("\"{tag}\"")
}

/// What the client's `If-Match` requires.
#[derive(Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`: the client takes whatever is current.
    Absent,
    /// `If-Match` holds for the current version.
    Holds,
    /// `If-Match` names other versions: answer 412.
    Fails,
}

/// Evaluates `If-Match` against the current ETag (strong comparison).
pub fn if_match(headers: &HeaderMap, current: &str) -> IfMatch {
    let values: Vec<_> = headers.get_all(header::IF_MATCH).iter().collect();
    if values.is_empty() {
        return IfMatch::Absent;
    }
    let holds = values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current);
    if holds {
        IfMatch::Holds
    } else {
        IfMatch::Fails
    }
}

/// A request's `If-None-Match` values: all a conditional GET needs. Taking
/// them alone spares a `HeaderMap` argument, which copies every header (the
/// bearer token included) and made a cached todo read 6% slower.
#[derive(Debug, Default)]
pub struct IfNoneMatch(Vec<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values = parts.headers.get_all(header::IF_NONE_MATCH);
        Ok(Self(values.iter().cloned().collect()))
    }
}

impl IfNoneMatch {
    /// True when it names the current ETag (weak comparison, as RFC 9110
    /// asks for GET), so a 304 can be sent.
    pub fn hits(&self, current: &str) -> bool {
        self.0
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == current)
    }
}

/// Checks `If-Match` before a write to an item whose ETag is `current`: 412
/// when it names another. `what` names the resource in the message.
pub fn precondition(headers: &HeaderMap, current: &str, what: &str) -> Result<IfMatch, ApiError> {
    match if_match(headers, current) {
        IfMatch::Fails => Err(stale(what)),
        other => Ok(other),
    }
}

/// The write condition "still at `version`" (optimistic locking).
pub fn version_is(version: u64) -> Condition {
    Condition::Equals {
        name: "version".into(),
        value: version.into(),
    }
}

/// The item changed between our read and our conditional write: 412 if the
/// client asked for a version, else 409 (retry).
pub fn lost_race(precondition: IfMatch, what: &str) -> ApiError {
    match precondition {
        IfMatch::Holds => stale(what),
        _ => ApiError::Conflict(format!("the {what} was changed concurrently; retry")),
    }
}

fn stale(what: &str) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "the {what} has changed since that ETag; read it again"
    ))
}
