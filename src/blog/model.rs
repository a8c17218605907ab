//! What a post is, what authors may send, and how a post is stored.
//!
//! A post lives at `PK = POST#{slug}`, `SK = POST`, so a slug is unique by
//! construction (creating one that exists fails its condition → 409). A
//! published post also carries `GSI1PK = POSTS#PUBLISHED` and
//! `GSI1SK = {published_at in zero-padded nanoseconds}#{slug}`, so the index
//! lists published posts newest first and drafts never appear there.
//! `body_html` is rendered and sanitized once, on write.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::render::markdown_to_safe_html;
use crate::error::{ApiError, FieldError};
use crate::store::{Item, Key, attr};

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 50_000;
pub const SLUG_MAX_CHARS: usize = 100;
/// The index partition of published posts.
pub const PUBLISHED: &str = "POSTS#PUBLISHED";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Published,
}

/// A blog post.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Post {
    /// Lower-case letters, digits and single dashes; unique.
    #[schema(example = "hello-world")]
    pub slug: String,
    pub title: String,
    /// Markdown, as the author wrote it.
    pub body: String,
    /// `body` rendered to HTML and sanitized: no scripts, no event handlers,
    /// no `javascript:` URLs.
    pub body_html: String,
    pub status: Status,
    /// The `sub` of the author who created it.
    pub author: String,
    #[serde(default)]
    pub cover_upload_id: Option<String>,
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
pub struct CreatePost {
    /// 1 to 200 characters after trimming.
    pub title: String,
    /// Markdown, up to 50,000 characters.
    pub body: String,
    /// Derived from the title when absent.
    pub slug: Option<String>,
    /// `draft` (default) or `published`.
    pub status: Option<Status>,
    pub cover_upload_id: Option<String>,
}

/// `PUT /blog/posts/{slug}`: the whole post (the slug stays).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplacePost {
    pub title: String,
    pub body: String,
    pub status: Status,
    #[serde(default)]
    pub cover_upload_id: Option<String>,
}

/// `PATCH /blog/posts/{slug}`: only the fields present change;
/// `"cover_upload_id": null` removes the cover.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    pub title: Option<String>,
    pub body: Option<String>,
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub cover_upload_id: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl CreatePost {
    /// A new post by `author`, or every field error at once.
    pub fn into_post(self, author: &str) -> Result<Post, ApiError> {
        let mut errors = Vec::new();
        let slug = match &self.slug {
            Some(slug) => check_slug(slug, &mut errors),
            None => slug_from_title(&self.title),
        };
        let now = OffsetDateTime::now_utc();
        let status = self.status.unwrap_or(Status::Draft);
        let post = Post {
            slug,
            title: check_title(&self.title, &mut errors),
            body_html: String::new(),
            body: check_body(self.body, &mut errors),
            status,
            author: author.to_string(),
            cover_upload_id: check_cover(self.cover_upload_id, &mut errors),
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

/// Renders the body once the input is known to be valid.
fn finish(mut post: Post, errors: Vec<FieldError>) -> Result<Post, ApiError> {
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    post.body_html = markdown_to_safe_html(&post.body);
    Ok(post)
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) -> String {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS {
        errors.push(FieldError::new("title", "must be 1 to 200 characters"));
    }
    title.to_string()
}

fn check_body(body: String, errors: &mut Vec<FieldError>) -> String {
    if body.chars().count() > BODY_MAX_CHARS {
        errors.push(FieldError::new("body", "must be at most 50,000 characters"));
    }
    body
}

fn check_cover(cover: Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    if cover
        .as_deref()
        .is_some_and(|id| ulid::Ulid::from_string(id).is_err())
    {
        errors.push(FieldError::new("cover_upload_id", "must be an upload id"));
    }
    cover
}

/// True for lower-case ASCII letters and digits in dash-separated words.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn check_slug(slug: &str, errors: &mut Vec<FieldError>) -> String {
    if !is_valid_slug(slug) {
        errors.push(FieldError::new(
            "slug",
            "must be 1 to 100 lower-case letters, digits and single dashes",
        ));
    }
    slug.to_string()
}

/// `"Hello, World! (2026)"` → `"hello-world-2026"`. Letters outside ASCII are
/// dropped; a title with no usable character gets a unique id instead.
pub fn slug_from_title(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= SLUG_MAX_CHARS {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        ulid::Ulid::new().to_string().to_lowercase()
    } else {
        slug.to_string()
    }
}

pub fn key(slug: &str) -> Key {
    Key::new(format!("POST#{slug}"), "POST")
}

pub fn to_item(post: &Post) -> Item {
    let mut item = crate::store::encode(post, &key(&post.slug));
    if let (Status::Published, Some(at)) = (post.status, post.published_at) {
        item.insert(attr::GSI1PK.into(), PUBLISHED.into());
        let sort = format!("{:020}#{}", at.unix_timestamp_nanos(), post.slug);
        item.insert(attr::GSI1SK.into(), sort.into());
    }
    item
}

pub fn from_item(item: &Item) -> Result<Post, ApiError> {
    crate::store::decode(item).map_err(|e| ApiError::Internal(format!("stored post: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_titles() {
        assert_eq!(slug_from_title("Hello, World! (2026)"), "hello-world-2026");
        assert_eq!(slug_from_title("  --Rust & AWS--  "), "rust-aws");
        assert!(is_valid_slug(&slug_from_title("日本語")));
        assert!(slug_from_title(&"a".repeat(500)).len() <= SLUG_MAX_CHARS);
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a/b", "../x"] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn only_published_posts_enter_the_index() {
        let draft = CreatePost {
            title: "t".into(),
            body: "b".into(),
            slug: None,
            status: None,
            cover_upload_id: None,
        }
        .into_post("sub")
        .unwrap();
        assert!(!to_item(&draft).contains_key(attr::GSI1PK));
        let published = UpdatePost {
            status: Some(Status::Published),
            ..Default::default()
        }
        .apply_to(draft)
        .unwrap();
        let item = to_item(&published);
        assert_eq!(item[attr::GSI1PK], PUBLISHED);
        assert!(item[attr::GSI1SK].as_str().unwrap().ends_with("#t"));
        assert_eq!(from_item(&item).unwrap().version, 2);
    }
}
