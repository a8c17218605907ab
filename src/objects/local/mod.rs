//! The local twin of S3: objects are files under the data directory, and
//! presigned URLs point at this service's own `/files/{key}` route
//! ([`crate::http::files`] maps HTTP onto this store).
//!
//! A URL carries `expires` (epoch seconds) and `signature` ([`signing`]);
//! [`LocalObjects::check_signature`] recomputes it from the request actually
//! received, so a changed key, method, expiry, type or size, or an expired
//! URL, is refused, as S3 refuses a bad signature. Uploads are streamed in
//! ([`receive`]), and their ending is notified to the process's worker
//! ([`events`]), as S3 notifies Lambda.
//!
//! Layout: `objects/blobs/{key}` holds the bytes, `objects/types/{key}` the
//! content type, `objects/refused/{key}` why an upload to it was refused,
//! `objects/tmp/` uploads still arriving.

mod events;
mod receive;
mod signing;

pub use events::{ObjectEvent, ObjectEvents};
pub use receive::ReceiveError;
pub use signing::SignatureError;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use bytes::Bytes;
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

impl LocalObjects {
    /// Keeps objects under `data_dir/objects`; URLs start with `base_url`
    /// (the service's public address).
    pub fn open(data_dir: &Path, base_url: impl Into<String>) -> std::io::Result<Self> {
        let secret =
            crate::secret_file::load_or_create(&data_dir.join("keys/file-url-key"), || {
                crate::secret_file::random_bytes(32)
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

    /// True when an object is stored at `key`.
    pub async fn exists(&self, key: &str) -> bool {
        check_key(key).is_ok() && tokio::fs::try_exists(self.blob(key)).await.unwrap_or(false)
    }

    fn blob(&self, key: &str) -> PathBuf {
        self.root.join("blobs").join(key)
    }

    fn type_file(&self, key: &str) -> PathBuf {
        self.root.join("types").join(key)
    }

    fn refusal_file(&self, key: &str) -> PathBuf {
        self.root.join("refused").join(key)
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
            walk(&blobs, &start, &mut |key, file| {
                let size = file.metadata()?.len();
                found.push(ObjectInfo { key, size });
                Ok(())
            })?;
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

fn parent(path: &Path) -> &Path {
    path.parent().expect("an object path has a directory")
}

fn is_missing(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Calls `visit` with every file under `dir`: its path relative to `root`
/// and the file itself. A missing `dir` has no files.
pub(in crate::objects) fn walk(
    root: &Path,
    dir: &Path,
    visit: &mut impl FnMut(String, &std::fs::DirEntry) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            walk(root, &entry.path(), visit)?;
        } else if let Ok(relative) = entry.path().strip_prefix(root) {
            visit(relative.to_string_lossy().into_owned(), &entry)?;
        }
    }
    Ok(())
}

pub(in crate::objects) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ObjectError::Internal(e.to_string()))?
        .map_err(|e| ObjectError::Internal(e.to_string()))
}
