//! Subscribe and unsubscribe over HTTP.
//!
//! Subscribing only writes the subscriber item; the welcome email is a
//! reaction to that item's arrival ([`super::welcome`]). Every valid request
//! gets the same 202, so addresses can't be probed.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::BlogState;
use super::letters;
use super::subscriber::{self, Subscriber, hash_secret};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiPath, JsonOrForm};
use crate::http::openapi::ProblemResponse;
use crate::http::ratelimit::{ClientIp, Verdict};
use crate::ids::EmailAddress;
use crate::keys;
use crate::store::{Condition, Write};

/// `POST /blog/subscribers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// A mail address; stored lower-cased.
    #[schema(format = Email, max_length = 254, example = "reader@example.com")]
    pub email: String,
}

/// The one answer to every valid subscribe request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
    pub detail: &'static str,
}

const ACCEPTED: Accepted = Accepted {
    status: "accepted",
    detail: "If this address can receive mail, a welcome message is on its way.",
};

/// Subscribe an address to the blog. Always 202 with the same body, whether
/// or not the address was subscribed already, so addresses can't be probed.
/// A site page's form posts the same fields form-encoded and is sent on to
/// the site's "check your inbox" page (303).
#[utoipa::path(post, path = "/blog/subscribers", tag = "blog",
    request_body(content(
        (Subscribe = "application/json"),
        (Subscribe = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 202, body = Accepted),
        (status = 303, description = "A form post: on to the site's `subscribed/` page",
            headers(("Location" = String))),
        (status = 400, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        (status = 429, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64))),
    ))]
pub async fn subscribe(
    State(state): State<BlogState>,
    ClientIp(client): ClientIp,
    body: JsonOrForm<Subscribe>,
) -> Result<Response, ApiError> {
    let (input, from_page) = match body {
        JsonOrForm::Json(input) => (input, false),
        JsonOrForm::Form(input) => (input, true),
    };
    // Counted first, so that a flood of bad addresses is refused too.
    if let Verdict::Refuse { wait } = state.subscribe_limiter.check(&client) {
        return Err(state.subscribe_limiter.refusal(wait, "this address"));
    }
    let email = (input.email.parse::<EmailAddress>())
        .map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let subscriber = Subscriber {
        email,
        created_at: time::OffsetDateTime::now_utc(),
        version: 1,
        welcome_sent_at: None,
        claimed_until: None,
        unsubscribe_hash: None,
    };
    let write = Write::Put {
        item: subscriber::to_item(&subscriber),
        condition: Condition::NotExists,
    };
    // Already subscribed answers the same.
    state.table.write_if(write).await?;
    if from_page {
        // Relative, so it resolves on whatever host the page was served
        // from (CloudFront's `/blog/*` on AWS): the site's own page.
        let location = [(header::LOCATION, "../subscribed/")];
        return Ok((StatusCode::SEE_OTHER, location).into_response());
    }
    Ok((StatusCode::ACCEPTED, axum::Json(ACCEPTED)).into_response())
}

/// The page behind the link in the email: asks before unsubscribing, since
/// mail scanners follow links.
#[utoipa::path(get, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"),
        (status = 404, response = ProblemResponse)))]
pub async fn unsubscribe_page(
    State(state): State<BlogState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Html<String>, ApiError> {
    verify(&state, &token).await?;
    let action = format!("/blog/subscribers/{token}");
    Ok(Html(letters::unsubscribe_page(&state.config.name, &action)))
}

/// Unsubscribe (the page's button, and one-click `List-Unsubscribe-Post`).
#[utoipa::path(post, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"),
        (status = 404, response = ProblemResponse)))]
pub async fn unsubscribe_by_post(
    State(state): State<BlogState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Html<String>, ApiError> {
    unsubscribe(&state, &token).await?;
    Ok(Html(letters::unsubscribed_page(&state.config.name)))
}

/// Unsubscribe.
#[utoipa::path(delete, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 204),
        (status = 404, response = ProblemResponse)))]
pub async fn unsubscribe_by_delete(
    State(state): State<BlogState>,
    ApiPath(token): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    unsubscribe(&state, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unsubscribe(state: &BlogState, token: &str) -> Result<(), ApiError> {
    let subscriber = verify(state, token).await?;
    let write = Write::Delete {
        key: keys::subscriber(&subscriber.email),
        condition: Condition::Exists,
    };
    // Gone already (a second click) answers the same.
    state.table.write_if(write).await?;
    Ok(())
}

/// The subscriber a token belongs to; 404 for anything else.
async fn verify(state: &BlogState, token: &str) -> Result<Subscriber, ApiError> {
    let (email, secret) = token.split_once('.').ok_or(ApiError::NotFound)?;
    let email: EmailAddress = URL_SAFE_NO_PAD
        .decode(email)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|email| email.parse().ok())
        .ok_or(ApiError::NotFound)?;
    let subscriber = subscriber::load(state.table.as_ref(), &email).await?;
    let subscriber = subscriber.ok_or(ApiError::NotFound)?;
    let stored = subscriber.unsubscribe_hash.as_deref().unwrap_or_default();
    let presented = hash_secret(secret);
    aws_lc_rs::constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes())
        .map_err(|_| ApiError::NotFound)?;
    Ok(subscriber)
}
