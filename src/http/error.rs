//! One error type for every response that isn't a success, rendered as
//! RFC 9457 `application/problem+json`.
//!
//! When to use what: handlers return `Result<_, ApiError>` and build the
//! variant that says what the *client* did wrong (or that we are unavailable).
//! Anything unexpected becomes `Internal`: its cause goes to the log with the
//! request id, and the client sees only "internal error". Store errors map
//! here in one place (`From<StoreError>`), so a failed condition means the same
//! thing on every route.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::mail::MailError;
use crate::objects::ObjectError;
use crate::store::StoreError;

/// A field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `title` or `items[2].due`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// 404 saying what is missing (where the client named it, e.g. in a
    /// batch).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    /// What the request refers to existed once and is no longer kept.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// 412 with what the write would have had to build on: the item's
    /// current version and the item itself (`None` when it is gone).
    #[error("{detail}")]
    Superseded {
        detail: String,
        current_version: Option<u64>,
        current: Option<Box<serde_json::Value>>,
    },
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("the request body stopped arriving")]
    RequestTimeout,
    #[error("Content-Length is required")]
    LengthRequired,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// A backend is unreachable or throttling: retry after this many seconds.
    #[error("service temporarily unavailable")]
    Unavailable(u64),
    /// A bug or a broken backend; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// One field failed validation.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PreconditionFailed(_) | Self::Superseded { .. } => {
                StatusCode::PRECONDITION_FAILED
            }
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` means "see status".
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a human.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields that failed validation, for 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 412 on a todo write: the todo's current version (absent when it
    /// no longer exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For 412 on a todo write: the todo as it now is, to merge with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Box<serde_json::Value>>,
}

/// Renders a problem+json response for `status`.
pub fn problem(status: StatusCode, detail: Option<String>, errors: Vec<FieldError>) -> Response {
    problem_body(Problem::new(status, detail, errors))
}

impl Problem {
    fn new(status: StatusCode, detail: Option<String>, errors: Vec<FieldError>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            errors,
            current_version: None,
            current: None,
        }
    }
}

fn problem_body(body: Problem) -> Response {
    let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let json = serde_json::to_vec(&body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        json,
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            Self::Unavailable(secs) | Self::TooManyRequests(_, secs) => Some(*secs),
            _ => None,
        };
        let mut response = match self {
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                problem(status, None, vec![])
            }
            Self::Unavailable(_) => problem(
                status,
                Some("a backend is unavailable; retry later".into()),
                vec![],
            ),
            Self::Validation(errors) => problem(
                status,
                Some("the request has invalid fields".into()),
                errors,
            ),
            Self::NotFound => problem(status, None, vec![]),
            Self::Superseded {
                detail,
                current_version,
                current,
            } => problem_body(Problem {
                current_version,
                current,
                ..Problem::new(status, Some(detail), vec![])
            }),
            other => problem(status, Some(other.to_string()), vec![]),
        };
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ConditionFailed { .. } => {
                Self::Conflict("the item changed or already exists".into())
            }
            StoreError::BadCursor => Self::BadRequest("invalid or foreign cursor".into()),
            StoreError::BadItem(why) => Self::BadRequest(why),
            StoreError::Unavailable(why) => {
                tracing::warn!(%why, "store unavailable");
                Self::Unavailable(RETRY_AFTER_SECS)
            }
            StoreError::Contended => Self::Unavailable(RETRY_AFTER_SECS),
            StoreError::Internal(why) => Self::Internal(why),
        }
    }
}

impl From<ObjectError> for ApiError {
    fn from(error: ObjectError) -> Self {
        match error {
            ObjectError::BadKey(why) => Self::BadRequest(why),
            ObjectError::Unavailable(why) => {
                tracing::warn!(%why, "object store unavailable");
                Self::Unavailable(RETRY_AFTER_SECS)
            }
            ObjectError::Internal(why) => Self::Internal(why),
        }
    }
}

impl From<MailError> for ApiError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::Invalid(why) => Self::BadRequest(why),
            MailError::Unavailable(why) => {
                tracing::warn!(%why, "mail unavailable");
                Self::Unavailable(RETRY_AFTER_SECS)
            }
            MailError::Internal(why) => Self::Internal(why),
        }
    }
}

/// How long clients should wait after a 503.
pub const RETRY_AFTER_SECS: u64 = 2;
