//! File storage: the [`ObjectStore`] trait, S3 in the cloud and a directory
//! on a laptop.
//!
//! Clients never stream files through this service: they get short-lived
//! presigned URLs and talk to the store directly (S3, or the local store's
//! own signed `/files/...` route). Every key is checked ([`check_key`]): no
//! `..`, empty or absolute segments; and resource code builds keys only from
//! validated ids ([`crate::keys`]), so a crafted name never reaches another
//! user's files.

mod local;
mod s3;
pub mod site;
mod sniff;

pub use local::{LocalObjects, ObjectEvent, ObjectEvents, ReceiveError, SignatureError};
pub use s3::S3Objects;
pub use sniff::{content_matches, head_matches};

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// A request a client may make without credentials until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Presigned {
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
    /// Epoch seconds after which the URL is refused.
    pub expires_at: u64,
}

/// One stored object, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// One stored object, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub body: Bytes,
    pub content_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// A key that could escape its folder or that a store cannot hold.
    #[error("invalid object name: {0}")]
    BadKey(String),
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("object store failure: {0}")]
    Internal(String),
}

/// The object API both backends offer. Keys are full keys (`users/…/a.png`).
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), ObjectError>;
    /// `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError>;
    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError>;
    /// Deleting a missing object succeeds, as on S3.
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;
    /// A URL that uploads exactly `content_length` bytes of `content_type`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<Presigned, ObjectError>;
    /// A URL that downloads the object.
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Presigned, ObjectError>;
    /// A short name for logs.
    fn describe(&self) -> String;
}

/// The longest key we accept (S3 allows 1024 bytes).
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks a full key: relative, `/`-separated, no empty, `.` or `..`
/// segments, no backslashes or control characters.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| Err(ObjectError::BadKey(format!("{why}: {key:?}")));
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return bad("empty or longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return bad("control character or backslash");
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return bad("empty, `.` or `..` path segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_climb_out_or_hide_tricks() {
        for good in ["a", "users/abc/photo 1.png", "users/abc/ünïcode.txt"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_KEY_BYTES + 1);
        for bad in [
            "", "/abs", "a//b", "a/../b", "..", "./a", "a/", "a\\b", "a\0b", "a\nb", &long,
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
