//! Who is calling, checked once per request in middleware.
//!
//! [`authenticate`] runs on every request. A request without `Authorization`
//! passes through anonymous (public routes need nothing); a request with a
//! bearer token must carry a valid one, or it is answered 401 right here.
//! Handlers that need a user take a [`User`] argument, which answers 401 when
//! the request was anonymous, so a route cannot forget to check.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, RETRY_AFTER_SECS};
use crate::auth::{Claims, Verifier, VerifyError};
use crate::ids::UserId;

/// The signed-in caller.
#[derive(Clone, Debug)]
pub struct User {
    claims: Arc<Claims>,
    id: UserId,
}

impl User {
    /// The stable user id (Cognito `sub`); every per-user key is built from it.
    pub fn id(&self) -> &UserId {
        &self.id
    }

    /// True when the user is in the Cognito group `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.claims.groups.iter().any(|g| g == group)
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

    pub fn profile(&self) -> Profile {
        Profile {
            sub: self.id.to_string(),
            username: self.claims.username().to_string(),
            groups: self.claims.groups.clone(),
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

/// Verifies the bearer token, if any, and records the [`User`].
pub async fn authenticate(
    State(verifier): State<Arc<Verifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    let token = match value.to_str().ok().and_then(bearer_token) {
        Some(token) => token,
        None => {
            return ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into())
                .into_response();
        }
    };
    match verifier.verify(token).await {
        Ok(claims) => match claims.sub.parse() {
            Ok(id) => {
                request.extensions_mut().insert(User { claims, id });
                next.run(request).await
            }
            Err(_) => ApiError::Unauthorized("the token's subject is not a user id".into())
                .into_response(),
        },
        Err(VerifyError::Invalid(why)) => ApiError::Unauthorized(why).into_response(),
        Err(VerifyError::KeysUnavailable(why)) => {
            tracing::warn!(%why, "cannot verify tokens: no signing keys");
            ApiError::Unavailable(RETRY_AFTER_SECS).into_response()
        }
    }
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
