//! Photos in posts: a post's cover, and the images its Markdown takes from
//! the writer's uploads (`![alt](upload:ID)`), published as resized copies
//! under the site's `media/` path.
//!
//! They are checked when the post is written: each must be one of the
//! writer's own uploads, checked and an image, or the write is a 422 (an
//! upload of someone else's reads as missing, so nothing is learnt about
//! it). The post then keeps what its pages need ([`Photo`]: the shown size
//! and where the original lives), so the site renders without reading an
//! upload, and a photo an editor left in place stays valid whoever edits
//! next.
//!
//! A copy is named by upload id, width and format, and an upload's bytes
//! don't change once checked, so the copies are cached for a year. The
//! private object, its `users/` key and any signed URL never reach a page:
//! only the stored post keeps the key (its public view leaves it out).

use maud::{Markup, html};
use pulldown_cmark::{Event, Parser, Tag};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Post;
use crate::http::error::{ApiError, FieldError};
use crate::ids::{UploadId, UserId};
use crate::keys;
use crate::store::{Read, Table};
use crate::uploads::model::{self as uploads, Status as UploadStatus};

/// Where the copies live on the site.
pub const MEDIA_PREFIX: &str = "media/";
/// The widths copies are made at (an image narrower than the widest also
/// gets a copy at its own width; none is ever enlarged).
pub const WIDTHS: [u32; 3] = [480, 960, 1440];
/// The most photos one post may show.
pub const MAX_PHOTOS: usize = 20;
/// How Markdown names an upload: `![alt](upload:ID)`.
pub const SCHEME: &str = "upload:";

/// The column a post is read in: `.wrap`'s 42rem less its padding.
const SIZES: &str = "(min-width: 42rem) 39.5rem, calc(100vw - 2.5rem)";

/// One image a post shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Photo {
    #[schema(value_type = String)]
    pub id: UploadId,
    /// The original's object key (private; never on a page).
    pub key: String,
    /// The image's size as shown.
    pub width: u32,
    pub height: u32,
}

/// How soon a browser should fetch a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// At once, first: a cover, at the top of the page.
    Eager,
    /// When it nears the screen: images in the text.
    Lazy,
}

impl Photo {
    /// The widths of its copies, smallest first.
    pub fn widths(&self) -> Vec<u32> {
        let mut widths: Vec<u32> = WIDTHS.into_iter().filter(|&w| w < self.width).collect();
        if self.width < WIDTHS[WIDTHS.len() - 1] {
            widths.push(self.width);
        }
        widths
    }

    /// The size of its copy `width` wide.
    pub fn size_at(&self, width: u32) -> (u32, u32) {
        let height = (u64::from(self.height) * u64::from(width) + u64::from(self.width) / 2)
            / u64::from(self.width.max(1));
        (width, (height as u32).max(1))
    }

    /// Every copy's size, smallest first.
    pub fn sizes(&self) -> Vec<(u32, u32)> {
        self.widths().into_iter().map(|w| self.size_at(w)).collect()
    }

    /// The site path of its copy `width` wide in `format` (`jpg`, `webp`).
    pub fn path(&self, width: u32, format: &str) -> String {
        format!("{MEDIA_PREFIX}{}/{width}.{format}", self.id)
    }

    /// Its largest JPEG copy's path and size (for `og:image`).
    pub fn largest(&self) -> (String, (u32, u32)) {
        let width = self.widths().last().copied().unwrap_or(self.width);
        (self.path(width, "jpg"), self.size_at(width))
    }

    /// A `<picture>`: WebP where the browser takes it, JPEG otherwise, the
    /// browser choosing the width; sized up front, so nothing jumps.
    pub fn picture(&self, alt: &str, loading: Loading) -> Markup {
        let srcset = |format: &str| {
            let copies = self.widths().into_iter();
            let each = copies.map(|w| format!("/{} {w}w", self.path(w, format)));
            each.collect::<Vec<_>>().join(", ")
        };
        let (src, (width, height)) = self.largest();
        // No `fetchpriority`: the Nu HTML Checker we test with rejects it.
        let lazy = match loading {
            Loading::Eager => "eager",
            Loading::Lazy => "lazy",
        };
        html! {
            picture {
                source type="image/webp" srcset=(srcset("webp")) sizes=(SIZES);
                img src={ "/" (src) } srcset=(srcset("jpg")) sizes=(SIZES) width=(width)
                    height=(height) alt=(alt) loading=(lazy) decoding="async";
            }
        }
    }
}

/// The upload ids `markdown`'s images name, in order, each once; `Err` for
/// an `upload:` reference that is no upload id.
pub fn references(markdown: &str) -> Result<Vec<UploadId>, String> {
    let mut ids: Vec<UploadId> = Vec::new();
    for event in Parser::new(markdown) {
        let Event::Start(Tag::Image { dest_url, .. }) = event else {
            continue;
        };
        let Some(id) = dest_url.strip_prefix(SCHEME) else {
            continue;
        };
        let id: UploadId = id
            .parse()
            .map_err(|_| format!("`{dest_url}` names no upload: give an upload's id"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `post` with the photos it shows, checked for `writer` ([`resolve`]).
pub async fn attach(table: &dyn Table, writer: &UserId, mut post: Post) -> Result<Post, ApiError> {
    let cover = post.cover_upload_id;
    post.photos = resolve(table, writer, cover, &post.body, &post.photos).await?;
    Ok(post)
}

/// The photos a post written by `writer` shows: its cover and the images
/// its body names. One it already showed (`kept`) stays; a new one must be
/// the writer's own ready image upload. Every problem is a field error.
pub async fn resolve(
    table: &dyn Table,
    writer: &UserId,
    cover: Option<UploadId>,
    body: &str,
    kept: &[Photo],
) -> Result<Vec<Photo>, ApiError> {
    let mut errors = Vec::new();
    let mut named: Vec<(&str, UploadId)> = cover
        .map(|id| ("cover_upload_id", id))
        .into_iter()
        .collect();
    match references(body) {
        Ok(ids) => named.extend(ids.into_iter().map(|id| ("body", id))),
        Err(why) => errors.push(FieldError::new("body", why)),
    }
    if named.len() > MAX_PHOTOS {
        errors.push(FieldError::new(
            "body",
            format!("shows more than {MAX_PHOTOS} photos"),
        ));
        named.clear();
    }
    let mut photos: Vec<Photo> = Vec::with_capacity(named.len());
    for (field, id) in named {
        if photos.iter().any(|p| p.id == id) {
            continue;
        }
        if let Some(photo) = kept.iter().find(|p| p.id == id) {
            photos.push(photo.clone());
            continue;
        }
        match own_image(table, writer, id).await? {
            Ok(photo) => photos.push(photo),
            Err(why) => errors.push(FieldError::new(field, why)),
        }
    }
    match errors.is_empty() {
        true => Ok(photos),
        false => Err(ApiError::Validation(errors)),
    }
}

/// The writer's upload `id` as a photo, or why it can't be one.
async fn own_image(
    table: &dyn Table,
    writer: &UserId,
    id: UploadId,
) -> Result<Result<Photo, String>, ApiError> {
    let Some(item) = table.get(&keys::upload(writer, id), Read::Strong).await? else {
        return Ok(Err(format!("upload {id} is not one of your uploads")));
    };
    let upload = uploads::from_item(&item)?;
    let verdict = match (upload.status, upload.image_size()) {
        (UploadStatus::Ready, Some(size)) => Ok(Photo {
            id,
            key: upload.key,
            width: size.width,
            height: size.height,
        }),
        (UploadStatus::Ready, None) => Err(format!(
            "upload {id} is not an image ({})",
            upload.content_type
        )),
        (UploadStatus::Pending, _) => Err(format!(
            "upload {id} has not arrived yet: send its file first"
        )),
        (UploadStatus::Failed, _) => Err(format!("upload {id} failed its checks")),
    };
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(width: u32, height: u32) -> Photo {
        Photo {
            id: "01J00000000000000000000000".parse().unwrap(),
            key: "users/x/uploads/01J00000000000000000000000/a.jpg".into(),
            width,
            height,
        }
    }

    #[test]
    fn copies_are_never_enlarged_and_keep_the_shape() {
        assert_eq!(photo(4000, 3000).widths(), vec![480, 960, 1440]);
        assert_eq!(photo(1000, 500).widths(), vec![480, 960, 1000]);
        assert_eq!(photo(1440, 900).widths(), vec![480, 960]);
        assert_eq!(photo(300, 200).widths(), vec![300]);
        assert_eq!(photo(4000, 3000).size_at(960), (960, 720));
        assert_eq!(photo(10_000, 1).size_at(480), (480, 1));
    }

    #[test]
    fn markdown_names_uploads_by_id() {
        let id = "01J00000000000000000000000";
        let markdown = format!("![a](upload:{id}) ![b](https://x/y.png) ![c](upload:{id})");
        assert_eq!(references(&markdown).unwrap().len(), 1);
        assert!(references("![a](upload:nope)").is_err());
        assert!(
            references("[not an image](upload:nope)")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_picture_names_only_public_copies() {
        let html = photo(2000, 1000)
            .picture("a \"cat\"", Loading::Lazy)
            .into_string();
        assert!(html.contains(r#"width="1440" height="720""#), "{html}");
        assert!(html.contains("/media/01J00000000000000000000000/480.webp 480w"));
        assert!(html.contains(r#"alt="a &quot;cat&quot;""#));
        assert!(html.contains(r#"loading="lazy""#));
        assert!(!html.contains("users/"));
    }
}
