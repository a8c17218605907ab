//! Conditional requests (RFC 9110): strong ETags (from an item's version, or
//! from a response's bytes), `If-None-Match` for cheap re-reads, and the one
//! versioned write every update and delete goes through: `If-Match` checked
//! against the latest version, then a write on condition that the item is
//! still at that version, and a lost race answered 412 or 409.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header, request::Parts};

use super::error::ApiError;
use crate::store::{Condition, Item, Key, Table, Write};

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

/// A request's `If-None-Match` values: all a conditional GET needs. Taking
/// them alone spares a `HeaderMap` argument, which copies every header (the
/// bearer token included) and made a cached todo read 6% slower.
#[derive(Debug, Default)]
pub struct IfNoneMatch(Vec<HeaderValue>);

/// A request's `If-Match` values, for [`IfMatch::check`].
#[derive(Debug, Default)]
pub struct IfMatch(Vec<HeaderValue>);

/// Both extractors take their header's values alone.
macro_rules! header_values {
    ($type:ident, $name:expr) => {
        impl<S: Send + Sync> FromRequestParts<S> for $type {
            type Rejection = Infallible;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
                let name: HeaderName = $name;
                Ok(Self(parts.headers.get_all(name).iter().cloned().collect()))
            }
        }
    };
}

header_values!(IfNoneMatch, header::IF_NONE_MATCH);
header_values!(IfMatch, header::IF_MATCH);

/// The entity tags in header values, `W/` dropped when `weak` (comparison
/// for GET is weak, for writes strong).
fn tags(values: &[HeaderValue], weak: bool) -> impl Iterator<Item = &str> {
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(move |tag| {
            if weak {
                tag.trim_start_matches("W/")
            } else {
                tag
            }
        })
}

impl IfMatch {
    /// Checks `If-Match` against the ETag of the latest version before a
    /// write: 412 when it names another. `what` names the resource in
    /// messages. The returned guard makes the write.
    pub fn check(&self, current: &str, what: &'static str) -> Result<VersionedWrite, ApiError> {
        let asked = !self.0.is_empty();
        let holds = tags(&self.0, false).any(|tag| tag == "*" || tag == current);
        match !asked || holds {
            true => Ok(VersionedWrite { asked, what }),
            false => Err(stale(what)),
        }
    }
}

/// A write of an item read at some version, after `If-Match` held.
#[must_use = "the write happens only through put or delete"]
pub struct VersionedWrite {
    /// The client named a version (so a lost race is its 412, not a 409).
    asked: bool,
    what: &'static str,
}

impl VersionedWrite {
    /// Replaces the item on condition that it is still at `expected`.
    pub async fn put(self, table: &dyn Table, item: Item, expected: u64) -> Result<(), ApiError> {
        let condition = Condition::version_is(expected);
        self.write(table, Write::Put { item, condition }).await
    }

    /// Deletes the item on condition that it is still at `expected`.
    pub async fn delete(self, table: &dyn Table, key: Key, expected: u64) -> Result<(), ApiError> {
        let condition = Condition::version_is(expected);
        self.write(table, Write::Delete { key, condition }).await
    }

    async fn write(self, table: &dyn Table, write: Write) -> Result<(), ApiError> {
        match table.write_if(write).await? {
            true => Ok(()),
            false => Err(self.refused()),
        }
    }

    /// The item changed between our read and our write: 412 if the client
    /// asked for a version, else 409 (read again and retry).
    pub fn refused(self) -> ApiError {
        match self.asked {
            true => stale(self.what),
            false => {
                ApiError::Conflict(format!("the {} was changed concurrently; retry", self.what))
            }
        }
    }
}

impl IfNoneMatch {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self(
            headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .cloned()
                .collect(),
        )
    }

    /// True when it names the current ETag (weak comparison, as RFC 9110
    /// asks for GET), so a 304 can be sent.
    pub fn hits(&self, current: &str) -> bool {
        tags(&self.0, true).any(|tag| tag == "*" || tag == current)
    }

    /// True for `If-None-Match: *`: "only if nothing is there yet".
    pub fn is_any(&self) -> bool {
        let mut all = tags(&self.0, false);
        all.next() == Some("*") && all.next().is_none()
    }
}

fn stale(what: &str) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "the {what} has changed since that ETag; read it again"
    ))
}
