//! A post as the public API shows it: everything but the author's `sub`,
//! which identifies an account and is never shown to readers (the site
//! shows `author_name` instead). An account's own export keeps the stored
//! post, `sub` and all.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::model::{Post, Status};
use crate::ids::{Slug, UploadId};

/// A blog post.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostView {
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
    /// The author's name as the site shows it, kept when the post was
    /// written; absent when the account has no name but its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub cover_upload_id: Option<UploadId>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// When it was first published.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<OffsetDateTime>,
    /// Increases by one on every change; the ETag is built from it.
    pub version: u64,
}

impl From<Post> for PostView {
    fn from(post: Post) -> Self {
        Self {
            slug: post.slug,
            title: post.title,
            body: post.body,
            body_html: post.body_html,
            status: post.status,
            author_name: post.author_name,
            cover_upload_id: post.cover_upload_id,
            created_at: post.created_at,
            updated_at: post.updated_at,
            published_at: post.published_at,
            version: post.version,
        }
    }
}
