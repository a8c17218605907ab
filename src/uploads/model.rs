//! What an upload is, what clients may ask for, and where its bytes live.
//!
//! An upload item lives next to the user's todos (`PK = USER#{sub}`,
//! `SK = UPLOAD#{ulid}`); its object at `users/{sub}/uploads/{id}/{name}`,
//! its thumbnails at `thumbs/users/{sub}/uploads/{id}/{size}.jpg`. The object
//! key is built here from the caller's `sub`, a fresh id and a sanitised
//! file name, never from a client-supplied path.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
use crate::objects::Presigned;
use crate::store::{Item, Key};

/// The longest file name kept, in bytes (S3 keys allow 1024 in all).
pub const NAME_MAX_BYTES: usize = 200;
pub const SORT_PREFIX: &str = "UPLOAD#";
/// Where thumbnails live; the completion reaction ignores this prefix.
pub const THUMBS_PREFIX: &str = "thumbs/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the client's upload.
    Pending,
    /// Checked; thumbnails made for images.
    Ready,
    /// Refused after upload; `reason` says why. The object is deleted.
    Failed,
}

/// One made thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Thumbnail {
    /// The long side it was made for (the image may be smaller).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    #[schema(ignore)]
    pub key: String,
}

/// A stored upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub filename: String,
    pub key: String,
    pub content_type: String,
    /// The size the client declared (and signed into the upload URL).
    pub size: u64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub thumbnails: Vec<Thumbnail>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// `POST /uploads`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    pub filename: String,
    pub content_type: String,
    /// Exact size in bytes.
    pub size: u64,
}

/// The answer to `POST /uploads`: where and how to send the bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTicket {
    pub id: String,
    #[serde(flatten)]
    pub upload: Presigned,
}

/// An upload as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Short-lived download URLs (when ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Presigned>,
    pub thumbnails: Vec<ThumbnailView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThumbnailView {
    pub width: u32,
    pub height: u32,
    pub download: Presigned,
}

/// What the service accepts, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRules {
    pub max_bytes: u64,
    pub types: Vec<String>,
}

impl CreateUpload {
    /// A pending upload for `sub`, or every field error at once.
    pub fn into_upload(self, sub: &str, rules: &UploadRules) -> Result<Upload, ApiError> {
        let mut errors = Vec::new();
        let filename = safe_name(&self.filename);
        if filename.is_none() {
            errors.push(FieldError::new("filename", "must name a file"));
        }
        let content_type = self.content_type.trim().to_ascii_lowercase();
        if !rules.types.contains(&content_type) {
            let allowed = rules.types.join(", ");
            errors.push(FieldError::new(
                "content_type",
                format!("must be one of: {allowed}"),
            ));
        }
        if self.size == 0 || self.size > rules.max_bytes {
            let max = rules.max_bytes;
            errors.push(FieldError::new("size", format!("must be 1 to {max} bytes")));
        }
        let Some(filename) = filename.filter(|_| errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let id = ulid::Ulid::new().to_string();
        let now = OffsetDateTime::now_utc();
        Ok(Upload {
            key: object_key(sub, &id, &filename),
            id,
            filename,
            content_type,
            size: self.size,
            status: Status::Pending,
            reason: None,
            thumbnails: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }
}

/// A file name that is safe as the last segment of a key: Unicode NFC, no
/// path separators, no control or invisible formatting characters, no
/// leading dots, at most [`NAME_MAX_BYTES`]. `None` when nothing usable is
/// left.
pub fn safe_name(raw: &str) -> Option<String> {
    // Keep only the last path segment a browser might send ("C:\x\a.png").
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last
        .nfc()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    name = name.trim().trim_start_matches('.').trim().to_string();
    while name.len() > NAME_MAX_BYTES {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// Format characters that hide or reorder text (bidi overrides, zero-width).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

pub fn object_key(sub: &str, id: &str, filename: &str) -> String {
    format!("users/{sub}/uploads/{id}/{filename}")
}

pub fn thumbnail_key(upload_key: &str, size: u32) -> String {
    let folder = upload_key
        .rsplit_once('/')
        .map_or(upload_key, |(dir, _)| dir);
    format!("{THUMBS_PREFIX}{folder}/{size}.jpg")
}

/// The owner and id of an upload object's key; `None` for any other key.
pub fn parse_object_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("users/")?;
    let (sub, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("uploads/")?;
    let (id, _name) = rest.split_once('/')?;
    ulid::Ulid::from_string(id).ok()?;
    Some((sub, id))
}

pub fn key(sub: &str, id: &str) -> Key {
    Key::new(
        crate::todos::model::partition(sub),
        format!("{SORT_PREFIX}{id}"),
    )
}

pub fn to_item(sub: &str, upload: &Upload) -> Item {
    crate::store::encode(upload, &key(sub, &upload.id))
}

pub fn from_item(item: &Item) -> Result<Upload, ApiError> {
    crate::store::decode(item).map_err(|e| ApiError::Internal(format!("stored upload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_climb_or_hide() {
        let cases = [
            ("photo.png", Some("photo.png")),
            ("../../etc/passwd", Some("passwd")),
            ("..\\..\\boot.ini", Some("boot.ini")),
            ("C:\\Users\\me\\cat.jpg", Some("cat.jpg")),
            ("..", None),
            ("/", None),
            ("", None),
            (".hidden", Some("hidden")),
            ("a\u{0000}b\nc.txt", Some("abc.txt")),
            ("evil\u{202E}gnp.exe", Some("evilgnp.exe")),
            ("cafe\u{0301}.png", Some("café.png")), // NFC
        ];
        for (raw, expected) in cases {
            assert_eq!(safe_name(raw).as_deref(), expected, "{raw:?}");
        }
        assert!(safe_name(&"é".repeat(500)).unwrap().len() <= NAME_MAX_BYTES);
    }

    #[test]
    fn keys_parse_back_and_thumbnails_live_apart() {
        let id = ulid::Ulid::new().to_string();
        let key = object_key("sub-1", &id, "a b.png");
        assert_eq!(parse_object_key(&key), Some(("sub-1", id.as_str())));
        let thumb = thumbnail_key(&key, 256);
        assert!(thumb.starts_with(THUMBS_PREFIX));
        assert_eq!(
            parse_object_key(&thumb),
            None,
            "thumbnails never trigger completion"
        );
        assert_eq!(parse_object_key("users/x/uploads/not-an-id/a"), None);
    }
}
