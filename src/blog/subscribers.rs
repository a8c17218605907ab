//! Blog subscribers: subscribe, the one welcome email, unsubscribe.
//!
//! Subscribing only writes the subscriber item (`SUB#{email}`); the welcome
//! email is a reaction to that item's INSERT, delivered by DynamoDB Streams
//! to the Lambda event mode, or by the embedded store's change feed to the
//! in-process worker ([`crate::events`]). Deliveries can repeat and race, so
//! [`welcome`] claims the send with a conditional write first:
//!
//! 1. read the subscriber (strongly); done if `welcome_sent_at` is set, or if
//!    another worker holds an unexpired claim;
//! 2. claim: write `claimed_until = now + 60 s` and a fresh unsubscribe token
//!    hash, on condition that `version` is still the one read: of racing
//!    deliveries exactly one wins;
//! 3. send; then record `welcome_sent_at` (again conditional on the version).
//!    If sending fails, the claim is released and the delivery is retried.
//!
//! The window that remains is at-least-once: if the process dies after SES
//! accepted the message but before step 3 is written, the claim expires and
//! a redelivered record sends a second welcome.
//!
//! The unsubscribe link carries `base64url(email).base64url(secret)`; only a
//! SHA-256 hash of the secret is stored, and it is compared in constant time,
//! so a tampered or guessed link never unsubscribes anyone.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conditional::version_is;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::mail::{MailError, Message, is_valid_address};
use crate::ratelimit::ClientIp;
use crate::state::AppState;
use crate::store::{Condition, Item, Key, Read, StoreError, Write, now_epoch};

/// The sort key of subscriber items.
pub const SORT_KEY: &str = "SUB";
/// How long a claim to send a welcome email holds.
const CLAIM_SECS: u64 = 60;

/// A stored subscriber.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Subscriber {
    email: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    welcome_sent_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimed_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unsubscribe_hash: Option<String>,
}

fn key(email: &str) -> Key {
    Key::new(format!("SUB#{email}"), SORT_KEY)
}

fn to_item(subscriber: &Subscriber) -> Item {
    crate::store::encode(subscriber, &key(&subscriber.email))
}

async fn load(state: &AppState, email: &str) -> Result<Option<Subscriber>, StoreError> {
    let Some(item) = state.table.get(&key(email), Read::Strong).await? else {
        return Ok(None);
    };
    crate::store::decode(&item)
        .map(Some)
        .map_err(|e| StoreError::Internal(format!("stored subscriber: {e}")))
}

/// `POST /blog/subscribers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
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
#[utoipa::path(post, path = "/blog/subscribers", tag = "blog", request_body = Subscribe,
    responses(
        (status = 202, body = Accepted),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64))),
    ))]
pub async fn subscribe(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(input): ApiJson<Subscribe>,
) -> Result<Response, ApiError> {
    state.subscribe_limiter.check(client)?;
    let email = input.email.trim().to_lowercase();
    if !is_valid_address(&email) {
        return Err(ApiError::invalid("email", "must be a mail address"));
    }
    let subscriber = Subscriber {
        email,
        created_at: time::OffsetDateTime::now_utc(),
        version: 1,
        welcome_sent_at: None,
        claimed_until: None,
        unsubscribe_hash: None,
    };
    let write = Write::Put {
        item: to_item(&subscriber),
        condition: Condition::NotExists,
    };
    match state.table.transact(vec![write]).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {
            Ok((StatusCode::ACCEPTED, axum::Json(ACCEPTED)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The page behind the link in the email: asks before unsubscribing, since
/// mail scanners follow links.
#[utoipa::path(get, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, ApiError> {
    verify(&state, &token).await?;
    let page = include_str!("templates/unsubscribe.html")
        .replace("{blog_name}", &escape(&state.config.blog.name))
        .replace("{action}", &escape(&format!("/blog/subscribers/{token}")));
    Ok(Html(page))
}

/// Unsubscribe (the page's button, and one-click `List-Unsubscribe-Post`).
#[utoipa::path(post, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn unsubscribe_by_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, ApiError> {
    unsubscribe(&state, &token).await?;
    let page = include_str!("templates/unsubscribed.html")
        .replace("{blog_name}", &escape(&state.config.blog.name));
    Ok(Html(page))
}

/// Unsubscribe.
#[utoipa::path(delete, path = "/blog/subscribers/{token}", tag = "blog",
    params(("token" = String, Path)),
    responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn unsubscribe_by_delete(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    unsubscribe(&state, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unsubscribe(state: &AppState, token: &str) -> Result<(), ApiError> {
    let subscriber = verify(state, token).await?;
    let write = Write::Delete {
        key: key(&subscriber.email),
        condition: Condition::Exists,
    };
    match state.table.transact(vec![write]).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The subscriber a token belongs to; 404 for anything else.
async fn verify(state: &AppState, token: &str) -> Result<Subscriber, ApiError> {
    let (email, secret) = token.split_once('.').ok_or(ApiError::NotFound)?;
    let email = URL_SAFE_NO_PAD
        .decode(email)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|email| is_valid_address(email))
        .ok_or(ApiError::NotFound)?;
    let subscriber = load(state, &email).await?.ok_or(ApiError::NotFound)?;
    let stored = subscriber.unsubscribe_hash.as_deref().unwrap_or_default();
    let presented = hash_secret(secret);
    aws_lc_rs::constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes())
        .map_err(|_| ApiError::NotFound)?;
    Ok(subscriber)
}

fn hash_secret(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// A new unsubscribe token for `email`, and the hash to store.
fn new_token(email: &str) -> (String, String) {
    let mut secret = [0u8; 18];
    aws_lc_rs::rand::fill(&mut secret).expect("the system RNG works");
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let token = format!("{}.{secret}", URL_SAFE_NO_PAD.encode(email));
    (token, hash_secret(&secret))
}

/// Sends `email` its welcome message unless it has had one (see the module
/// docs). `Err` means "deliver the change again later".
pub async fn welcome(state: &AppState, email: &str) -> Result<(), String> {
    let now = now_epoch();
    let Some(mut subscriber) = load(state, email).await.map_err(|e| e.to_string())? else {
        return Ok(()); // unsubscribed before the welcome went out
    };
    let claimed = subscriber.claimed_until.is_some_and(|until| until > now);
    if subscriber.welcome_sent_at.is_some() || claimed {
        return Ok(());
    }
    let (token, hash) = new_token(email);
    subscriber.claimed_until = Some(now + CLAIM_SECS);
    subscriber.unsubscribe_hash = Some(hash);
    if !put_next(state, &mut subscriber).await? {
        return Ok(()); // another delivery claimed it first
    }
    match state
        .mailer
        .send(&welcome_message(state, email, &token))
        .await
    {
        Ok(id) => {
            subscriber.claimed_until = None;
            subscriber.welcome_sent_at = Some(now_epoch());
            if let Err(error) = put_next(state, &mut subscriber).await {
                // Sent but not recorded: the claim keeps others off until it expires.
                tracing::warn!(%error, "welcome sent but not recorded");
            }
            tracing::info!(message_id = id, "welcome email sent");
            Ok(())
        }
        Err(MailError::Invalid(why)) => {
            tracing::warn!(%why, "welcome email refused; not retrying");
            Ok(())
        }
        Err(error) => {
            subscriber.claimed_until = None;
            let _ = put_next(state, &mut subscriber).await;
            Err(format!("welcome email not sent: {error}"))
        }
    }
}

/// Writes the next version of `subscriber` if nobody else did first;
/// `Ok(false)` when someone did.
async fn put_next(state: &AppState, subscriber: &mut Subscriber) -> Result<bool, String> {
    let expected = subscriber.version;
    subscriber.version += 1;
    let write = Write::Put {
        item: to_item(subscriber),
        condition: version_is(expected),
    };
    match state.table.transact(vec![write]).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn welcome_message(state: &AppState, email: &str, token: &str) -> Message {
    let blog = &state.config.blog.name;
    let link = format!("{}/blog/subscribers/{token}", state.config.public_url);
    let fill = |template: &str, blog: &str, link: &str| {
        template
            .replace("{blog_name}", blog)
            .replace("{unsubscribe_url}", link)
    };
    Message {
        to: email.to_string(),
        subject: format!("Welcome to {blog}"),
        text: fill(include_str!("templates/welcome.txt"), blog, &link),
        html: fill(
            include_str!("templates/welcome.html"),
            &escape(blog),
            &escape(&link),
        ),
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{link}>")),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}

/// Escapes text for HTML element content and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
