//! Who may write posts: members of `authors`, each owning the posts they
//! created, and members of `editors`, who may change anyone's.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use super::model::{Post, Status};
use super::{AUTHORS, EDITORS};
use crate::http::auth::User;
use crate::http::error::ApiError;

/// A signed-in member of `authors` or `editors` (403 for anyone else,
/// before the body is read). Authors own their posts; editors may change
/// anyone's.
pub struct Author {
    pub user: User,
    editor: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Author {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let user = <User as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let editor = user.in_group(EDITORS);
        if !editor {
            user.require_group(AUTHORS)?;
        }
        Ok(Self { user, editor })
    }
}

/// `Option<Author>`: a public route that shows an author more.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Author {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let author = <Self as FromRequestParts<S>>::from_request_parts(parts, state).await;
        Ok(author.ok())
    }
}

impl Author {
    /// True when this caller may read `post` as a draft and change it.
    pub fn owns(&self, post: &Post) -> bool {
        self.editor || post.author == *self.user.id()
    }

    /// Another author's draft does not exist for this caller (404, as for
    /// anyone who can't see it); another author's published post is public,
    /// so changing it is plainly forbidden (403).
    pub fn may_change(&self, post: &Post) -> Result<(), ApiError> {
        match (self.owns(post), post.status) {
            (true, _) => Ok(()),
            (false, Status::Draft) => Err(ApiError::NotFound),
            (false, Status::Published) => Err(ApiError::Forbidden(
                "only its author or an editor may change this post".into(),
            )),
        }
    }
}
