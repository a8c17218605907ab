//! The local twin of SES: every message becomes one `.eml` file in an outbox
//! directory, named by a ULID so that files sort in sending order. Open one
//! in any mail client to see what a recipient would get.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{MailError, Mailer, Message, to_mime};

pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    /// Writes into `dir` (created on first use) as `from`.
    pub fn new(dir: &Path, from: impl Into<String>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: &Message) -> Result<String, MailError> {
        let bytes = to_mime(&self.from, message)?;
        let id = ulid::Ulid::new().to_string();
        let (dir, from) = (self.dir.clone(), self.from.clone());
        let path = dir.join(format!("{id}.eml"));
        let partial = dir.join(format!(".{id}.partial"));
        let write = async move {
            tokio::fs::create_dir_all(&dir).await?;
            // Written aside, then renamed: a reader never sees half a message.
            tokio::fs::write(&partial, &bytes).await?;
            tokio::fs::rename(&partial, &path).await
        };
        write
            .await
            .map_err(|e| MailError::Internal(format!("outbox: {e}")))?;
        tracing::info!(id, from, "mail written to the outbox");
        Ok(id)
    }

    fn describe(&self) -> String {
        format!("outbox at {}", self.dir.display())
    }
}
