//! Mail through Amazon SES v2, sent as a raw MIME message (see the module
//! above: the same bytes as the outbox).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent, RawMessage};

use super::{MailError, Mailer, Message, to_mime};

pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<String, MailError> {
        let bytes = to_mime(&self.from, message)?;
        let raw = RawMessage::builder()
            .data(Blob::new(bytes))
            .build()
            .map_err(|e| MailError::Internal(e.to_string()))?;
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                aws_sdk_sesv2::types::Destination::builder()
                    .to_addresses(message.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(mail_error)?;
        Ok(output.message_id.unwrap_or_default())
    }

    fn describe(&self) -> String {
        format!("ses v2 from {}", self.from)
    }
}

fn mail_error<E>(error: SdkError<E, crate::aws::HttpResponse>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = crate::aws::failure(&error);
    match failure.code.as_deref() {
        _ if failure.transient => MailError::Unavailable(failure.detail),
        Some("BadRequestException" | "MessageRejected" | "MailFromDomainNotVerifiedException") => {
            MailError::Invalid(failure.detail)
        }
        _ => MailError::Internal(failure.detail),
    }
}
