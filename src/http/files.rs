//! `GET` and `PUT /files/{key}`: the presigned URLs of the local object
//! store, which stands in for S3 on a laptop. The router exists only when
//! the local store is the active one; on S3 these paths answer 404.
//!
//! The store checks the signature and streams the bytes; this module only
//! maps HTTP to it and its errors to problem+json. What happens once an
//! upload lands is the store's notification to its listener, not ours.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, declared_length};
use crate::objects::{LocalObjects, ObjectStore as _, ReceiveError, SignatureError};

/// The `/files` routes over `objects`.
pub fn router(objects: Arc<LocalObjects>) -> Router {
    Router::new()
        .route("/files/{*key}", get(download).put(upload))
        .with_state(objects)
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<u64>,
    signature: Option<String>,
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        ApiError::Forbidden(error.to_string())
    }
}

impl From<ReceiveError> for ApiError {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::TooLarge => ApiError::PayloadTooLarge,
            ReceiveError::WrongType(_) => ApiError::UnsupportedMediaType(error.to_string()),
            ReceiveError::Interrupted | ReceiveError::WrongLength => {
                ApiError::BadRequest(error.to_string())
            }
            ReceiveError::Store(error) => error.into(),
        }
    }
}

async fn download(
    State(objects): State<Arc<LocalObjects>>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(signed): ApiQuery<Signed>,
) -> Result<Response, ApiError> {
    let signature = signed.signature.as_deref();
    objects.check_signature("GET", &key, signed.expires, signature, None)?;
    let object = objects.get(&key).await?.ok_or(ApiError::NotFound)?;
    let content_type = object
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok(([(header::CONTENT_TYPE, content_type)], object.body).into_response())
}

async fn upload(
    State(objects): State<Arc<LocalObjects>>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(signed): ApiQuery<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    // As S3: the length is signed, so a body without one (chunked) is 411.
    let length = declared_length(&headers).ok_or(ApiError::LengthRequired)?;
    let signature = signed.signature.as_deref();
    let claimed = Some((content_type, length));
    objects.check_signature("PUT", &key, signed.expires, signature, claimed)?;
    if let Some(refused) = objects.refusal(&key).await {
        return Err(refused.into());
    }
    if objects.exists(&key).await {
        return Err(ApiError::Forbidden("this upload URL has been used".into()));
    }
    let stream = body.into_data_stream();
    objects.receive(&key, content_type, length, stream).await?;
    Ok(StatusCode::OK)
}
