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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::{Object, ObjectError, ObjectInfo, ObjectStore, Presigned, check_key};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::now_epoch;

/// The largest object the local store accepts in one upload.
pub const MAX_OBJECT_BYTES: u64 = 100 * 1024 * 1024;

pub struct LocalObjects {
    root: PathBuf,
    secret: hmac::Key,
    base_url: String,
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
        })
    }

    /// True when an object is stored at `key`.
    pub async fn exists(&self, key: &str) -> bool {
        check_key(key).is_ok() && tokio::fs::try_exists(self.blob(key)).await.unwrap_or(false)
    }

    /// Streams an upload to disk as it arrives: never more than `length`
    /// bytes, and its first bytes must fit `content_type`, else it stops
    /// there (413, 415). The object appears under `key` only once complete.
    pub async fn receive(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        body: Body,
    ) -> Result<(), ApiError> {
        check_key(key)?;
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
        tokio::fs::rename(&staged, &blob).await.map_err(io_error)
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

async fn stream_to_file(
    path: &Path,
    content_type: &str,
    length: u64,
    mut body: Body,
) -> Result<(), ApiError> {
    use http_body_util::BodyExt as _;
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::File::create(path).await.map_err(io_error)?;
    let (mut received, mut head) = (0u64, Vec::with_capacity(HEAD_BYTES));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::BadRequest("the upload was interrupted".into()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > length {
            return Err(ApiError::PayloadTooLarge);
        }
        if head.len() < HEAD_BYTES {
            let wanted = (HEAD_BYTES - head.len()).min(data.len());
            head.extend_from_slice(&data[..wanted]);
            let decided = head.len() == HEAD_BYTES || received == length;
            if decided && !super::head_matches(content_type, &head) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the content is not {content_type}"
                )));
            }
        }
        file.write_all(&data).await.map_err(io_error)?;
    }
    if received != length {
        return Err(ApiError::BadRequest(
            "the body does not match Content-Length".into(),
        ));
    }
    file.sync_all().await.map_err(io_error)
}

fn io_error(error: std::io::Error) -> ApiError {
    ApiError::Internal(format!("local object store: {error}"))
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

/// `GET` and `PUT /files/{key}`: the presigned URLs of [`LocalObjects`].
/// Answers 404 when objects live in S3.
pub fn files_router() -> Router<AppState> {
    Router::new().route("/files/{*key}", get(download).put(upload))
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<u64>,
    signature: Option<String>,
}

fn local(state: &AppState) -> Result<Arc<LocalObjects>, ApiError> {
    state.local_objects.clone().ok_or(ApiError::NotFound)
}

/// Refuses a missing, expired or non-matching signature.
fn authorize(
    objects: &LocalObjects,
    method: &str,
    key: &str,
    signed: &Signed,
    content: Option<(&str, u64)>,
) -> Result<(), ApiError> {
    let (Some(expires), Some(signature)) = (signed.expires, signed.signature.as_deref()) else {
        return Err(ApiError::Forbidden("the URL is not signed".into()));
    };
    if expires <= now_epoch() {
        return Err(ApiError::Forbidden("the URL has expired".into()));
    }
    let text = LocalObjects::signed_text(method, key, expires, content);
    if objects.verify(&text, signature) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the signature does not match this request".into(),
        ))
    }
}

async fn download(
    State(state): State<AppState>,
    UrlPath(key): UrlPath<String>,
    Query(signed): Query<Signed>,
) -> Result<Response, ApiError> {
    let objects = local(&state)?;
    authorize(&objects, "GET", &key, &signed, None)?;
    let object = objects.get(&key).await?.ok_or(ApiError::NotFound)?;
    let content_type = object
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok(([(header::CONTENT_TYPE, content_type)], object.body).into_response())
}

async fn upload(
    State(state): State<AppState>,
    UrlPath(key): UrlPath<String>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let objects = local(&state)?;
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    let declared = header_text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    // The signature is checked first: without a length no signature matches
    // (no URL is ever signed for u64::MAX bytes).
    let claimed = Some((content_type, declared.unwrap_or(u64::MAX)));
    authorize(&objects, "PUT", &key, &signed, claimed)?;
    if objects.exists(&key).await {
        return Err(ApiError::Forbidden("this upload URL has been used".into()));
    }
    let Some(length) = declared else {
        return Err(ApiError::BadRequest("Content-Length is required".into()));
    };
    if let Err(refused) = objects.receive(&key, content_type, length, body).await {
        if matches!(
            refused,
            ApiError::UnsupportedMediaType(_) | ApiError::PayloadTooLarge
        ) {
            let reason = refused.to_string();
            if let Err(error) = crate::uploads::complete::refused(&state, &key, reason).await {
                tracing::warn!(%error, "marking a refused upload failed");
            }
        }
        return Err(refused);
    }
    // The local stand-in for S3's ObjectCreated notification.
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = crate::events::object_created(&state, &key).await {
            tracing::warn!(%error, "completing an upload failed");
        }
    });
    Ok(StatusCode::OK)
}
