//! Conditional requests (RFC 9110): strong ETags from an item's version,
//! `If-Match` for safe updates and `If-None-Match` for cheap re-reads.

use axum::http::{HeaderMap, HeaderValue, header};

/// The strong ETag of a representation at `version`.
pub fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

pub fn etag_header(version: u64) -> HeaderValue {
    HeaderValue::from_str(&etag(version)).expect("an ETag is a valid header value")
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

/// Evaluates `If-Match` against the current version (strong comparison).
pub fn if_match(headers: &HeaderMap, version: u64) -> IfMatch {
    let values: Vec<_> = headers.get_all(header::IF_MATCH).iter().collect();
    if values.is_empty() {
        return IfMatch::Absent;
    }
    let current = etag(version);
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

/// True when `If-None-Match` names the current version (weak comparison, as
/// RFC 9110 asks for GET), so a 304 can be sent.
pub fn none_match_hits(headers: &HeaderMap, version: u64) -> bool {
    let current = etag(version);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == current)
}
