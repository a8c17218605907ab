//! What an upload is, what clients may ask for, and where its bytes live.
//!
//! An upload item lives in its owner's partition, next to their todos; its
//! object and thumbnails under the owner's folder ([`crate::keys`]). The
//! object key is built from the caller's id, a fresh id and a sanitised file
//! name, never from a client-supplied path.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use crate::config::UploadRules;
use crate::http::error::{ApiError, FieldError};
use crate::http::validate::whole_number;
use crate::ids::{UploadId, UserId};
use crate::keys;
use crate::objects::Presigned;
use crate::store::Item;

/// The longest file name kept, in bytes (S3 keys allow 1024 in all).
pub const NAME_MAX_BYTES: usize = 200;
/// The longest file name a client may send (it is cut to the kept length).
pub const FILENAME_MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = UploadStatus)]
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

/// An image's size as it is shown (after its EXIF orientation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// A stored upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: UploadId,
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
    /// A ready image's size, recorded when it was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSize>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Upload {
    /// A ready image's size as shown. Uploads checked before the size was
    /// kept give their largest thumbnail's, which has the same shape.
    pub fn image_size(&self) -> Option<ImageSize> {
        if self.status != Status::Ready || !self.content_type.starts_with("image/") {
            return None;
        }
        let largest = self.thumbnails.iter().max_by_key(|t| t.width);
        self.image.or(largest.map(|t| ImageSize {
            width: t.width,
            height: t.height,
        }))
    }
}

/// `POST /uploads`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"filename": "cat.jpg", "content_type": "image/jpeg", "size": 48213}))]
pub struct CreateUpload {
    /// The file's name; only its last path segment is kept, cleaned of
    /// invisible characters and leading dots, at most 200 bytes (a name
    /// with nothing left is stored as `file`).
    #[schema(min_length = 1, max_length = 1024)]
    pub filename: String,
    /// One of the service's accepted types (`APP_UPLOAD_TYPES`; the
    /// document lists them).
    pub content_type: String,
    /// Exact size in bytes, at most `APP_UPLOAD_MAX_BYTES` (the document
    /// states it).
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1)]
    pub size: u64,
}

/// The answer to `POST /uploads`: where and how to send the bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTicket {
    #[schema(value_type = String)]
    pub id: UploadId,
    #[serde(flatten)]
    pub upload: Presigned,
}

/// An upload as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    #[schema(value_type = String)]
    pub id: UploadId,
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

impl CreateUpload {
    /// A pending upload for `sub`, or every field error at once.
    pub fn into_upload(self, owner: &UserId, rules: &UploadRules) -> Result<Upload, ApiError> {
        let mut errors = Vec::new();
        let filename = match self.filename.chars().count() {
            1..=FILENAME_MAX_CHARS => {
                Some(safe_name(&self.filename).unwrap_or_else(|| "file".into()))
            }
            _ => None,
        };
        if filename.is_none() {
            let message = format!("must be 1 to {FILENAME_MAX_CHARS} characters");
            errors.push(FieldError::new("filename", message));
        }
        let content_type = self.content_type;
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
        let id = UploadId::new();
        let now = OffsetDateTime::now_utc();
        Ok(Upload {
            key: keys::upload_object(owner, id, &filename),
            id,
            filename,
            content_type,
            size: self.size,
            status: Status::Pending,
            reason: None,
            thumbnails: Vec::new(),
            image: None,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }
}

/// A file name that is safe as the last segment of a key: Unicode NFC, no
/// path separators, no character that is invisible or reorders text, no
/// leading dots, at most [`NAME_MAX_BYTES`]. `None` when nothing usable is
/// left.
pub fn safe_name(raw: &str) -> Option<String> {
    // Keep only the last path segment a browser might send ("C:\x\a.png").
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last.nfc().filter(|c| !is_invisible(*c)).collect();
    name = name.trim().trim_start_matches('.').trim().to_string();
    while name.len() > NAME_MAX_BYTES {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// Controls (Cc), format characters (Cf: bidi overrides, zero-width
/// characters, soft hyphens, tag characters) and line and paragraph
/// separators (Zl, Zp), by the Unicode tables.
fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};
    matches!(
        c.general_category(),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
    )
}

pub fn to_item(owner: &UserId, upload: &Upload) -> Item {
    crate::store::encode(upload, &keys::upload(owner, upload.id))
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
            (
                "a\u{2060}b\u{00AD}c\u{2028}d\u{2029}e.png",
                Some("abcde.png"),
            ),
            ("tag\u{E0041}\u{E007F}s\u{200F}.png", Some("tags.png")),
            ("\u{FEFF}\u{180E}x\u{061C}.txt", Some("x.txt")),
            ("cafe\u{0301}.png", Some("café.png")), // NFC
        ];
        for (raw, expected) in cases {
            assert_eq!(safe_name(raw).as_deref(), expected, "{raw:?}");
        }
        assert!(safe_name(&"é".repeat(500)).unwrap().len() <= NAME_MAX_BYTES);
    }
}
