//! Outgoing mail: the [`Mailer`] trait, SES v2 in the cloud and an outbox of
//! `.eml` files on a laptop.
//!
//! Both backends send the same bytes: one MIME message (text and HTML
//! alternatives) built here. SES gets it as a raw message, so what a test
//! reads from the outbox is what a subscriber's mail client would receive,
//! and headers such as `List-Unsubscribe` work the same on both.

mod outbox;
mod ses;

pub use outbox::OutboxMailer;
pub use ses::SesMailer;

use std::sync::Arc;

use async_trait::async_trait;
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use prometheus_client::metrics::counter::Counter;

use crate::ids::EmailAddress;

/// One message to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Extra headers, e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is unusable (a bad address, a line break in a header).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The mail service is unreachable or throttling; worth retrying later.
    #[error("mail unavailable: {0}")]
    Unavailable(String),
    #[error("mail failure: {0}")]
    Internal(String),
}

/// Sends mail; returns an identifier of the sent message.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, message: &Message) -> Result<String, MailError>;

    /// A short name for logs.
    fn describe(&self) -> String;
}

/// A mailer that counts the messages its inner mailer accepted.
pub struct Counted {
    inner: Arc<dyn Mailer>,
    sent: Counter,
}

impl Counted {
    pub fn new(inner: Arc<dyn Mailer>, sent: Counter) -> Self {
        Self { inner, sent }
    }
}

#[async_trait]
impl Mailer for Counted {
    async fn send(&self, message: &Message) -> Result<String, MailError> {
        let id = self.inner.send(message).await?;
        self.sent.inc();
        Ok(id)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The message as MIME bytes, from `from`.
pub fn to_mime(from: &str, message: &Message) -> Result<Vec<u8>, MailError> {
    if from.parse::<EmailAddress>().is_err() {
        return Err(MailError::Invalid(format!(
            "`{from}` is not a mail address"
        )));
    }
    let header_values = std::iter::once(message.subject.as_str()).chain(
        message
            .headers
            .iter()
            .flat_map(|(n, v)| [n.as_str(), v.as_str()]),
    );
    for value in header_values {
        if value.contains(['\r', '\n']) {
            return Err(MailError::Invalid("a header holds a line break".into()));
        }
    }
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(message.to.as_str())
        .subject(message.subject.as_str())
        .text_body(message.text.as_str())
        .html_body(message.html.as_str());
    for (name, value) in &message.headers {
        // Raw: these headers carry URLs and tokens that must not be re-encoded.
        builder = builder.header(name.as_str(), Raw::new(value.as_str()));
    }
    builder
        .write_to_vec()
        .map_err(|e| MailError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_break_in_a_header_is_refused() {
        let message = Message {
            to: "a@example.com".parse().unwrap(),
            subject: "hi\r\nBcc: victim@example.com".into(),
            text: "t".into(),
            html: "<p>t</p>".into(),
            headers: vec![],
        };
        assert!(matches!(
            to_mime("from@example.com", &message),
            Err(MailError::Invalid(_))
        ));
    }
}
