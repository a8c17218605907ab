//! Who is calling, checked once per request in middleware.
//!
//! [`authenticate`] runs on every request. A request without `Authorization`
//! passes through anonymous (public routes need nothing); a request with a
//! bearer token must carry a valid one, or it is answered 401 right here.
//! Handlers that need a user take a [`User`] argument, which answers 401 when
//! the request was anonymous, so a route cannot forget to check.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, RETRY_AFTER_SECS};
use crate::auth::{Verified, Verifier, VerifyError};
use crate::ids::UserId;

/// The signed-in caller.
#[derive(Clone, Debug)]
pub struct User(Arc<Verified>);

impl User {
    /// The stable user id (Cognito `sub`); every per-user key is built from it.
    pub fn id(&self) -> &UserId {
        &self.0.user
    }

    /// True when the user is in the Cognito group `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.0.claims.groups.iter().any(|g| g == group)
    }

    /// Fails with 403 unless the user is in `group`.
    pub fn require_group(&self, group: &str) -> Result<(), ApiError> {
        if self.in_group(group) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "requires membership of the `{group}` group"
            )))
        }
    }

    /// The name to show for this user in public: the username, unless it
    /// is the `sub` again (as in Cognito pools that sign in by email), which
    /// is never shown.
    pub fn display_name(&self) -> Option<String> {
        let name = self.0.claims.username().trim();
        (!name.is_empty() && name != self.id().as_str()).then(|| name.to_string())
    }

    pub fn profile(&self) -> Profile {
        Profile {
            sub: self.id().to_string(),
            username: self.0.claims.username().to_string(),
            groups: self.0.claims.groups.clone(),
        }
    }
}

/// What `GET /me` shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// `Option<User>`: routes that are public but show more to signed-in users.
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for User {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<User>().cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<User>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))
    }
}

/// Verifies the bearer token, if any, and records the [`User`]; a token
/// refused is recorded as a [`Refusal`], which the throttle answers after
/// counting it against the caller's address (so a flood of bad tokens is
/// throttled like any anonymous flood).
pub async fn authenticate(verifier: &Verifier, mut request: Request) -> Request {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return request;
    };
    let outcome = match value.to_str().ok().and_then(bearer_token) {
        Some(token) => match verifier.verify(token).await {
            Ok(verified) => Ok(User(verified)),
            Err(VerifyError::Invalid(why)) => Err(Refusal::Invalid(why)),
            Err(VerifyError::KeysUnavailable(why)) => {
                tracing::warn!(%why, "cannot verify tokens: no signing keys");
                Err(Refusal::KeysUnavailable)
            }
        },
        None => Err(Refusal::Invalid(
            "expected `Authorization: Bearer <token>`".into(),
        )),
    };
    match outcome {
        Ok(user) => {
            request.extensions_mut().insert(user);
        }
        Err(refusal) => {
            request.extensions_mut().insert(refusal);
        }
    }
    request
}

/// Why a request's token was refused: the answer it gets, from the throttle.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// Malformed, forged, expired, for another audience: 401.
    Invalid(String),
    /// No signing keys to check it with: 503.
    KeysUnavailable,
}

impl Refusal {
    pub fn into_error(self) -> ApiError {
        match self {
            Self::Invalid(why) => ApiError::Unauthorized(why),
            Self::KeysUnavailable => ApiError::Unavailable(RETRY_AFTER_SECS),
        }
    }
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
