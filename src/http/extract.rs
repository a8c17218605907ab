//! Extractors that reject bad input in our own problem+json format.
//!
//! axum's `Json` and `Query` answer malformed input with plain-text bodies;
//! these wrappers keep the same parsing but turn every rejection into an
//! [`ApiError`] that names what was wrong: 415 for a wrong content type, 413
//! for a body over the limit, 400 for broken JSON, 422 (with the field's
//! path) for JSON of the wrong shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// The largest JSON body an endpoint accepts unless it says otherwise.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body of at most `LIMIT` bytes, deserialized and
/// shape-checked. A `Content-Length` over the limit is refused before a
/// byte is read (so a client waiting on `Expect: 100-continue` never sends
/// it); a body that stops arriving is a 408 (see [`super::middleware`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T, const LIMIT: usize = JSON_BODY_LIMIT>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S> for ApiJson<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        if declared_length(req.headers()).is_some_and(|length| length > LIMIT as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = axum::body::to_bytes(req.into_body(), LIMIT)
            .await
            .map_err(body_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The request's `Content-Length`, when it sent a readable one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Why a body could not be read: too long (413), too slow (408), or cut off.
fn body_error(error: axum::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge;
        }
        if error.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout;
        }
        cause = error.source();
    }
    ApiError::BadRequest("could not read the request body".into())
}

/// Parses JSON, telling a syntax error (400) from a shape error (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        shape_or_syntax(path, inner)
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn shape_or_syntax(path: String, error: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => {
            let message = strip_position(&error.to_string());
            let field = match path.as_str() {
                "." | "" => missing_field_name(&message).unwrap_or_else(|| "body".into()),
                _ => path,
            };
            ApiError::Validation(vec![FieldError::new(field, message)])
        }
        _ => ApiError::BadRequest(format!("malformed JSON: {error}")),
    }
}

/// serde's messages end in " at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// "missing field `title`" → "title".
fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn is_json(headers: &HeaderMap) -> bool {
    let essence = media_type(headers);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The request's media type, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> String {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A body sent as JSON, or as an HTML form (`application/x-www-form-urlencoded`)
/// by a page that works without JavaScript; the handler answers each kind
/// in its own way. The same limits and checks apply to both.
pub enum JsonOrForm<T> {
    Json(T),
    Form(T),
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if media_type(req.headers()) != "application/x-www-form-urlencoded" {
            let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
            return Ok(Self::Json(value));
        }
        if declared_length(req.headers()).is_some_and(|length| length > JSON_BODY_LIMIT as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = axum::body::to_bytes(req.into_body(), JSON_BODY_LIMIT)
            .await
            .map_err(body_error)?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Self::Form)
            .map_err(|e| ApiError::Validation(vec![FieldError::new("body", e.to_string())]))
    }
}

/// A query string, deserialized; a malformed one is a 400 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|error| {
                let field = error.path().to_string();
                ApiError::Validation(vec![FieldError::new(field, error.into_inner().to_string())])
            })
    }
}

/// A path parameter parsed into its id type. A value that does not parse
/// names nothing that exists, so it answers 404 exactly as a missing item
/// does (ids can't be probed by their shape).
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}
