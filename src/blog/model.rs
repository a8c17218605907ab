//! What a post is, what authors may send, and how a post is stored.
//!
//! A post's key is its slug ([`crate::keys::post`]), so a slug is unique by
//! construction (creating one that exists fails its condition → 409). Only
//! a published post carries the index keys ([`crate::keys::PUBLISHED_POSTS`]),
//! so the index lists published posts newest first and drafts never appear.
//! `body_html` is rendered and sanitized once, on write ([`rendered`]).

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::photos::Photo;
use super::render::render;
use crate::http::error::{ApiError, FieldError};
use crate::http::validate::{self, non_null};
use crate::ids::{Slug, UploadId, UserId};
use crate::keys;
use crate::store::{Condition, Item, Write, attr};

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PostStatus)]
pub enum Status {
    Draft,
    Published,
}

/// A blog post as stored (and as its author's export shows it); the API
/// shows [`super::view::PostView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = StoredPost)]
pub struct Post {
    /// Lower-case letters, digits and single dashes; unique.
    #[schema(value_type = String, example = "hello-world")]
    pub slug: Slug,
    pub title: String,
    /// Markdown, as the author wrote it.
    pub body: String,
    /// `body` rendered to HTML and sanitized: no scripts, no event handlers,
    /// no `javascript:` URLs.
    pub body_html: String,
    pub status: Status,
    /// The `sub` of the author who created it.
    #[schema(value_type = String)]
    pub author: UserId,
    /// The author's name as shown on the site, kept when the post was
    /// written (their username; absent when it is only their `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub cover_upload_id: Option<UploadId>,
    /// The images it shows (cover and body), checked when it was written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Photo>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// When it was first published.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<OffsetDateTime>,
    /// Increases by one on every change; the ETag is built from it.
    pub version: u64,
}

/// `POST /blog/posts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Hello, world", "body": "First *post*.", "status": "published"}))]
pub struct CreatePost {
    /// Up to 200 characters, not blank, no control characters; stored
    /// trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Markdown, up to 50,000 characters, nested at most 32 levels deep;
    /// raw HTML in it is shown as text. `![alt](upload:ID)` shows one of
    /// your image uploads (ready; at most 20 photos a post, cover included);
    /// any other upload id is a 422.
    #[schema(max_length = 50000)]
    pub body: String,
    /// Derived from the title when absent.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        nullable = false,
        max_length = 100,
        pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub slug: Option<String>,
    /// `draft` (default) or `published`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub status: Option<Status>,
    /// One of your image uploads, ready, shown as the cover (else 422).
    #[schema(pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub cover_upload_id: Option<String>,
}

/// `PUT /blog/posts/{slug}`: the whole post (the slug stays).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplacePost {
    /// As for `POST /blog/posts`.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 50000)]
    pub body: String,
    pub status: Status,
    #[serde(default)]
    #[schema(pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub cover_upload_id: Option<String>,
}

/// `PATCH /blog/posts/{slug}`: at least one field; only the fields
/// present change; `"cover_upload_id": null` removes the cover (the others
/// cannot be `null`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "published"}))]
pub struct UpdatePost {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, max_length = 50000)]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub cover_upload_id: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl CreatePost {
    /// A new post by `author`, or every field error at once.
    pub fn into_post(self, author: &UserId, author_name: Option<String>) -> Result<Post, ApiError> {
        let mut errors = Vec::new();
        let slug = match &self.slug {
            Some(slug) => check::<Slug>("slug", slug, &mut errors),
            None => Some(Slug::from_title(&self.title)),
        };
        let now = OffsetDateTime::now_utc();
        let status = self.status.unwrap_or(Status::Draft);
        let post = Post {
            // A bad slug is in `errors` already; this one is never stored.
            slug: slug.unwrap_or_else(|| Slug::from_title(&self.title)),
            title: check_title(&self.title, &mut errors),
            body_html: String::new(),
            body: check_body(self.body, &mut errors),
            status,
            author: author.clone(),
            author_name,
            cover_upload_id: check_cover(self.cover_upload_id, &mut errors),
            photos: Vec::new(),
            created_at: now,
            updated_at: now,
            published_at: (status == Status::Published).then_some(now),
            version: 1,
        };
        finish(post, errors)
    }
}

impl ReplacePost {
    pub fn apply_to(self, current: Post) -> Result<Post, ApiError> {
        UpdatePost {
            title: Some(self.title),
            body: Some(self.body),
            status: Some(self.status),
            cover_upload_id: Some(self.cover_upload_id),
        }
        .apply_to(current)
    }
}

impl UpdatePost {
    /// The post with these changes, one version later.
    pub fn apply_to(self, mut post: Post) -> Result<Post, ApiError> {
        let mut errors = Vec::new();
        if self.title.is_none()
            && self.body.is_none()
            && self.status.is_none()
            && self.cover_upload_id.is_none()
        {
            errors.push(FieldError::new("body", "no fields to update"));
        }
        if let Some(title) = &self.title {
            post.title = check_title(title, &mut errors);
        }
        if let Some(body) = self.body {
            post.body = check_body(body, &mut errors);
        }
        if let Some(cover) = self.cover_upload_id {
            post.cover_upload_id = check_cover(cover, &mut errors);
        }
        let now = OffsetDateTime::now_utc();
        if let Some(status) = self.status {
            post.status = status;
            if status == Status::Published && post.published_at.is_none() {
                post.published_at = Some(now);
            }
        }
        post.updated_at = now;
        post.version += 1;
        finish(post, errors)
    }
}

fn finish(post: Post, errors: Vec<FieldError>) -> Result<Post, ApiError> {
    match errors.is_empty() {
        true => Ok(post),
        false => Err(ApiError::Validation(errors)),
    }
}

/// The post with `body_html` rendered from its body, off the async workers
/// ([`render`]); a body that cannot be rendered is a 422 on `body`.
pub async fn rendered(mut post: Post) -> Result<Post, ApiError> {
    let html = render(post.body.clone(), post.photos.clone()).await;
    post.body_html = html.map_err(|why| ApiError::invalid("body", why.to_string()))?;
    Ok(post)
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) -> String {
    validate::check_title("title", title, TITLE_MAX_CHARS, errors)
}

/// The id in `text`, or its error for `field`.
fn check<T: std::str::FromStr<Err = crate::ids::InvalidId>>(
    field: &str,
    text: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    text.parse()
        .map_err(|e: crate::ids::InvalidId| errors.push(FieldError::new(field, e.to_string())))
        .ok()
}

fn check_cover(cover: Option<String>, errors: &mut Vec<FieldError>) -> Option<UploadId> {
    cover.and_then(|id| check("cover_upload_id", &id, errors))
}

fn check_body(body: String, errors: &mut Vec<FieldError>) -> String {
    if body.chars().count() > BODY_MAX_CHARS {
        errors.push(FieldError::new("body", "must be at most 50,000 characters"));
    }
    body
}

pub fn to_item(post: &Post) -> Item {
    let mut item = crate::store::encode(post, &keys::post(&post.slug));
    if let (Status::Published, Some(at)) = (post.status, post.published_at) {
        item.insert(attr::GSI1PK.into(), keys::PUBLISHED_POSTS.into());
        let sort = keys::published_post_sort(at.unix_timestamp_nanos(), &post.slug);
        item.insert(attr::GSI1SK.into(), sort.into());
    }
    item
}

/// The item that lists `post` among its author's, for their export and
/// erasure (written with the post, in one transaction).
pub fn authored_pointer(post: &Post) -> Write {
    let key = keys::authored(&post.author, &post.slug);
    Write::Put {
        item: crate::store::encode(&serde_json::json!({}), &key),
        condition: Condition::None,
    }
}

pub fn from_item(item: &Item) -> Result<Post, ApiError> {
    crate::store::decode(item).map_err(|e| ApiError::Internal(format!("stored post: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_posts_enter_the_index() {
        let draft = CreatePost {
            title: "t".into(),
            body: "b".into(),
            slug: None,
            status: None,
            cover_upload_id: None,
        }
        .into_post(&"sub".parse().unwrap(), None)
        .unwrap();
        assert!(!to_item(&draft).contains_key(attr::GSI1PK));
        let published = UpdatePost {
            status: Some(Status::Published),
            ..Default::default()
        }
        .apply_to(draft)
        .unwrap();
        let item = to_item(&published);
        assert_eq!(item[attr::GSI1PK], keys::PUBLISHED_POSTS);
        assert!(item[attr::GSI1SK].as_str().unwrap().ends_with("#t"));
        assert_eq!(from_item(&item).unwrap().version, 2);
    }
}
