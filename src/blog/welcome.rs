//! The one welcome email: the blog's reaction to a new subscriber item,
//! delivered by DynamoDB Streams to the Lambda event mode, or by the
//! embedded store's change feed to the local worker. Deliveries can repeat
//! and race, so [`welcome`] claims the send with a conditional write first:
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

use super::BlogState;
use super::letters;
use super::subscriber::{self, Subscriber, new_token};
use crate::clock::now_epoch;
use crate::ids::EmailAddress;
use crate::keys;
use crate::mail::{MailError, Message};
use crate::reaction::ReactionError;
use crate::store::{ChangeKind, ChangeRecord, Condition, Write};

/// How long a claim to send a welcome email holds.
const CLAIM_SECS: u64 = 60;

/// The blog's reaction to a stored change: a new subscriber is welcomed;
/// every other change is not the blog's.
pub async fn on_change(state: &BlogState, change: &ChangeRecord) -> Result<(), ReactionError> {
    if change.kind != ChangeKind::Insert || !keys::is_subscriber(&change.key) {
        return Ok(());
    }
    let image = change.new_image.as_ref();
    let subscriber = image.map(crate::store::decode::<Subscriber>).transpose();
    match subscriber {
        Ok(Some(subscriber)) => welcome(state, &subscriber.email).await,
        _ => Err(ReactionError::Drop(format!(
            "subscriber record {} without a readable email",
            change.key.pk
        ))),
    }
}

/// Sends `email` its welcome message unless it has had one (see the module
/// docs). `Err` means "deliver the change again later".
pub async fn welcome(state: &BlogState, email: &EmailAddress) -> Result<(), ReactionError> {
    let now = now_epoch();
    let Some(mut subscriber) = subscriber::load(state.table.as_ref(), email).await? else {
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
            Err(ReactionError::Drop(format!("welcome email refused: {why}")))
        }
        Err(error) => {
            subscriber.claimed_until = None;
            let _ = put_next(state, &mut subscriber).await;
            Err(ReactionError::Retry(format!(
                "welcome email not sent: {error}"
            )))
        }
    }
}

/// Writes the next version of `subscriber` if nobody else did first;
/// `Ok(false)` when someone did.
async fn put_next(state: &BlogState, subscriber: &mut Subscriber) -> Result<bool, ReactionError> {
    let expected = subscriber.version;
    subscriber.version += 1;
    let write = Write::Put {
        item: subscriber::to_item(subscriber),
        condition: Condition::version_is(expected),
    };
    Ok(state.table.write_if(write).await?)
}

fn welcome_message(state: &BlogState, email: &EmailAddress, token: &str) -> Message {
    let blog = &state.config.name;
    let link = format!("{}/blog/subscribers/{token}", state.public_url);
    Message {
        to: email.clone(),
        subject: format!("Welcome to {blog}"),
        text: letters::welcome_text(blog, &link),
        html: letters::welcome_html(blog, &link),
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{link}>")),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}
