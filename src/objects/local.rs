//! The local twin of S3: objects are files under the data directory, and
//! presigned URLs point at this service's own `/files/{key}` route.
//!
//! A URL carries `expires` (epoch seconds) and `signature`, an HMAC-SHA256,
//! under a secret generated once in the data directory, of the method, the
//! key, the expiry and, for uploads, the content type and length. The route
//! recomputes it from the request it actually receives, so a changed key,
//! method, expiry, type or size, or an expired URL, is refused with 403, as S3
//! refuses a bad signature.
//!
//! Layout: `objects/blobs/{key}` holds the bytes, `objects/types/{key}` the
//! content type; uploads are streamed to `objects/tmp/` (stopping at once when
//! they run past the signed length or start with the wrong bytes) and renamed
//! into place, so a reader never sees half an object.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Object, ObjectError, ObjectInfo, ObjectStore, Presigned, check_key};
use crate::clock::now_epoch;

/// The largest object the local store accepts in one upload.
pub const MAX_OBJECT_BYTES: u64 = 100 * 1024 * 1024;

pub struct LocalObjects {
    root: PathBuf,
    secret: hmac::Key,
    base_url: String,
    events: ObjectEvents,
}

/// What the local store tells its listener when a client's upload ends, as
/// S3 notifies Lambda of ObjectCreated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectEvent {
    /// An upload landed whole at this key.
    Created(String),
    /// An upload to this key was stopped as it arrived (too long, or the
    /// wrong kind of file), and nothing was stored.
    Refused { key: String, reason: String },
}

/// The listener's side of the local store's notifications: a queue in
/// arrival order. Clones share the queue.
#[derive(Clone, Default)]
pub struct ObjectEvents {
    queue: Arc<Mutex<VecDeque<ObjectEvent>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl ObjectEvents {
    fn push(&self, event: ObjectEvent) {
        self.queue.lock().expect("queue lock").push_back(event);
        self.arrived.notify_one();
    }

    /// The oldest event not yet taken.
    pub fn take(&self) -> Option<ObjectEvent> {
        self.queue.lock().expect("queue lock").pop_front()
    }

    /// Returns an event that could not be handled to the front of the queue.
    pub fn put_back(&self, event: ObjectEvent) {
        self.queue.lock().expect("queue lock").push_front(event);
    }

    /// Waits until an event arrives (at once if one arrived since the last wait).
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }
}

/// Why an upload through a presigned URL was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// More bytes arrived than the URL was signed for.
    #[error("the file is too large for its upload URL")]
    TooLarge,
    /// The first bytes are not the kind of file the URL was signed for.
    #[error("the content is not {0}")]
    WrongType(String),
    #[error("the upload was interrupted")]
    Interrupted,
    #[error("the body does not match Content-Length")]
    WrongLength,
    #[error(transparent)]
    Store(#[from] ObjectError),
}

/// Why a presented URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL is not signed")]
    Unsigned,
    #[error("the URL has expired")]
    Expired,
    #[error("the signature does not match this request")]
    Mismatch,
}

impl LocalObjects {
    /// Keeps objects under `data_dir/objects`; URLs start with `base_url`
    /// (the service's public address).
    pub fn open(data_dir: &Path, base_url: impl Into<String>) -> std::io::Result<Self> {
        let secret =
            crate::secret_file::load_or_create(&data_dir.join("keys/file-url-key"), || {
                let mut bytes = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut bytes).map_err(std::io::Error::other)?;
                Ok(bytes)
            })?;
        Ok(Self {
            root: data_dir.join("objects"),
            secret: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            base_url: base_url.into(),
            events: ObjectEvents::default(),
        })
    }

    /// The notifications of uploads that ended (see [`ObjectEvent`]).
    pub fn events(&self) -> ObjectEvents {
        self.events.clone()
    }

    /// Refuses a missing, expired or non-matching signature for a request
    /// with this method and key (and, for uploads, content type and length).
    pub fn check_signature(
        &self,
        method: &str,
        key: &str,
        expires: Option<u64>,
        signature: Option<&str>,
        content: Option<(&str, u64)>,
    ) -> Result<(), SignatureError> {
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(SignatureError::Unsigned);
        };
        if expires <= now_epoch() {
            return Err(SignatureError::Expired);
        }
        let text = Self::signed_text(method, key, expires, content);
        match self.verify(&text, signature) {
            true => Ok(()),
            false => Err(SignatureError::Mismatch),
        }
    }

    /// True when an object is stored at `key`.
    pub async fn exists(&self, key: &str) -> bool {
        check_key(key).is_ok() && tokio::fs::try_exists(self.blob(key)).await.unwrap_or(false)
    }

    /// Streams an upload to disk as it arrives: never more than `length`
    /// bytes, and its first bytes must fit `content_type`, else it stops
    /// there. The object appears under `key` only once complete; either
    /// ending is told to the listener of [`LocalObjects::events`].
    pub async fn receive<E>(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<(), ReceiveError> {
        check_key(key)?;
        let result = self.store_upload(key, content_type, length, body).await;
        match &result {
            Ok(()) => self.events.push(ObjectEvent::Created(key.to_string())),
            Err(refused @ (ReceiveError::TooLarge | ReceiveError::WrongType(_))) => {
                self.events.push(ObjectEvent::Refused {
                    key: key.to_string(),
                    reason: refused.to_string(),
                })
            }
            Err(_) => {}
        }
        result
    }

    async fn store_upload<E>(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<(), ReceiveError> {
        let tmp = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp).await.map_err(io_error)?;
        let staged = tmp.join(ulid::Ulid::new().to_string());
        let received = stream_to_file(&staged, content_type, length, body).await;
        if received.is_err() {
            let _ = tokio::fs::remove_file(&staged).await;
            return received;
        }
        let (blob, type_file) = (self.blob(key), self.type_file(key));
        for dir in [parent(&blob), parent(&type_file)] {
            tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
        }
        tokio::fs::write(&type_file, content_type)
            .await
            .map_err(io_error)?;
        tokio::fs::rename(&staged, &blob).await.map_err(io_error)?;
        Ok(())
    }

    fn blob(&self, key: &str) -> PathBuf {
        self.root.join("blobs").join(key)
    }

    fn type_file(&self, key: &str) -> PathBuf {
        self.root.join("types").join(key)
    }

    /// What a URL's signature covers.
    fn signed_text(method: &str, key: &str, expires: u64, content: Option<(&str, u64)>) -> String {
        let (content_type, length) = content.unwrap_or(("", 0));
        format!("{method}\n{key}\n{expires}\n{content_type}\n{length}")
    }

    fn sign(&self, text: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.secret, text.as_bytes()))
    }

    /// Checks a presented URL's signature in constant time.
    fn verify(&self, text: &str, signature: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(signature)
            .is_ok_and(|tag| hmac::verify(&self.secret, text.as_bytes(), &tag).is_ok())
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        content: Option<(&str, u64)>,
        expires_in: Duration,
    ) -> Result<Presigned, ObjectError> {
        check_key(key)?;
        let expires_at = now_epoch() + expires_in.as_secs().max(1);
        let signature = self.sign(&Self::signed_text(method, key, expires_at, content));
        let path: Vec<String> = key
            .split('/')
            .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
            .collect();
        let headers = content
            .map(|(content_type, length)| {
                vec![
                    ("content-type".to_string(), content_type.to_string()),
                    ("content-length".to_string(), length.to_string()),
                ]
            })
            .unwrap_or_default();
        Ok(Presigned {
            method: method.into(),
            url: format!(
                "{}/files/{}?expires={expires_at}&signature={signature}",
                self.base_url,
                path.join("/")
            ),
            headers,
            expires_at,
        })
    }
}

/// Characters escaped in one path segment (everything but unreserved ones).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[async_trait]
impl ObjectStore for LocalObjects {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        let (blob, type_file, tmp) = (self.blob(key), self.type_file(key), self.root.join("tmp"));
        let content_type = content_type.to_string();
        blocking(move || {
            for dir in [&tmp, parent(&blob), parent(&type_file)] {
                std::fs::create_dir_all(dir)?;
            }
            let staged = tmp.join(ulid::Ulid::new().to_string());
            std::fs::write(&staged, &body)?;
            std::fs::write(&type_file, content_type)?;
            std::fs::rename(&staged, &blob)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError> {
        check_key(key)?;
        let (blob, type_file) = (self.blob(key), self.type_file(key));
        blocking(move || {
            let body = match std::fs::read(&blob) {
                Ok(body) => body,
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            let content_type = std::fs::read_to_string(&type_file).ok();
            Ok(Some(Object {
                body: body.into(),
                content_type,
            }))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        let blobs = self.root.join("blobs");
        // Walk only the deepest directory the prefix names.
        let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        if !dir_part.is_empty() {
            check_key(dir_part)?;
        }
        let start = blobs.join(dir_part);
        let prefix = prefix.to_string();
        blocking(move || {
            let mut found = Vec::new();
            walk(&blobs, &start, &mut found)?;
            found.retain(|info: &ObjectInfo| info.key.starts_with(&prefix));
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        let (blob, type_file) = (self.blob(key), self.type_file(key));
        blocking(move || {
            for path in [blob, type_file] {
                match std::fs::remove_file(path) {
                    Err(e) if !is_missing(&e) => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<Presigned, ObjectError> {
        if content_length > MAX_OBJECT_BYTES {
            return Err(ObjectError::BadKey(format!(
                "{content_length} bytes is over the local store's {MAX_OBJECT_BYTES}"
            )));
        }
        self.presign("PUT", key, Some((content_type, content_length)), expires_in)
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Presigned, ObjectError> {
        self.presign("GET", key, None, expires_in)
    }

    fn describe(&self) -> String {
        format!("local files at {}", self.root.display())
    }
}

/// How many first bytes are enough to tell a file's type.
const HEAD_BYTES: usize = 16;

async fn stream_to_file<E>(
    path: &Path,
    content_type: &str,
    length: u64,
    mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<(), ReceiveError> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::File::create(path).await.map_err(io_error)?;
    let (mut received, mut head) = (0u64, Vec::with_capacity(HEAD_BYTES));
    while let Some(data) = body.next().await {
        let data = data.map_err(|_| ReceiveError::Interrupted)?;
        received += data.len() as u64;
        if received > length {
            return Err(ReceiveError::TooLarge);
        }
        if head.len() < HEAD_BYTES {
            let wanted = (HEAD_BYTES - head.len()).min(data.len());
            head.extend_from_slice(&data[..wanted]);
            let decided = head.len() == HEAD_BYTES || received == length;
            if decided && !super::head_matches(content_type, &head) {
                return Err(ReceiveError::WrongType(content_type.to_string()));
            }
        }
        file.write_all(&data).await.map_err(io_error)?;
    }
    if received != length {
        return Err(ReceiveError::WrongLength);
    }
    file.sync_all().await.map_err(io_error)?;
    Ok(())
}

fn io_error(error: std::io::Error) -> ObjectError {
    ObjectError::Internal(format!("local object store: {error}"))
}

fn parent(path: &Path) -> &Path {
    path.parent().expect("an object path has a directory")
}

fn is_missing(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Collects every file under `dir` as an object keyed relative to `root`.
fn walk(root: &Path, dir: &Path, found: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(root, &entry.path(), found)?;
        } else if let Ok(relative) = entry.path().strip_prefix(root) {
            found.push(ObjectInfo {
                key: relative.to_string_lossy().into_owned(),
                size: meta.len(),
            });
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ObjectError::Internal(e.to_string()))?
        .map_err(|e| ObjectError::Internal(e.to_string()))
}
