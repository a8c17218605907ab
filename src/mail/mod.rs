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

use async_trait::async_trait;
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;

/// One message to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub to: String,
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

/// True for an address a mail service could deliver to: one `@`, a dot in
/// the domain, no spaces or control characters, at most 254 bytes.
pub fn is_valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let clean = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| !c.is_control() && !c.is_whitespace() && !"<>()[],;:\"\\@".contains(c))
    };
    address.len() <= 254
        && clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// The message as MIME bytes, from `from`.
pub fn to_mime(from: &str, message: &Message) -> Result<Vec<u8>, MailError> {
    for address in [from, message.to.as_str()] {
        if !is_valid_address(address) {
            return Err(MailError::Invalid(format!(
                "`{address}` is not a mail address"
            )));
        }
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
    fn addresses_are_checked() {
        for good in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(is_valid_address(good), "{good}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a b@example.com",
            "a@example.com\r\nBcc: x@evil.com",
            "a@@example.com",
            "<a@example.com>",
            &long,
        ] {
            assert!(!is_valid_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_line_break_in_a_header_is_refused() {
        let message = Message {
            to: "a@example.com".into(),
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
