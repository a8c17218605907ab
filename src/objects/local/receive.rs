//! Uploads through the local store's presigned URLs: streamed to a staging
//! file as they arrive, stopped at the first byte past the signed length or
//! at a first few bytes of the wrong kind, and renamed into place only once
//! whole, so a reader never sees half an object. A refusal is remembered
//! (`objects/refused/{key}`), so the same URL is refused again.

use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use super::{LocalObjects, ObjectEvent, parent};
use crate::objects::{ObjectError, check_key, head_matches};

/// Why an upload through a presigned URL was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// More bytes arrived than the URL was signed for.
    #[error("the file is too large for its upload URL")]
    TooLarge,
    /// The first bytes are not the kind of file the URL was signed for.
    #[error("the content is not {0}")]
    WrongType(String),
    #[error("the upload was interrupted")]
    Interrupted,
    #[error("the body does not match Content-Length")]
    WrongLength,
    #[error(transparent)]
    Store(#[from] ObjectError),
}

impl LocalObjects {
    /// Streams an upload to disk as it arrives: never more than `length`
    /// bytes, and its first bytes must fit `content_type`, else it stops
    /// there. The object appears under `key` only once complete; either
    /// ending is told to the listener of [`LocalObjects::events`].
    pub async fn receive<E>(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<(), ReceiveError> {
        check_key(key)?;
        let result = async {
            let tmp = self.root.join("tmp");
            tokio::fs::create_dir_all(&tmp).await.map_err(io_error)?;
            let staged = tmp.join(ulid::Ulid::new().to_string());
            let received = stream_to_file(&staged, content_type, length, body).await;
            if received.is_err() {
                let _ = tokio::fs::remove_file(&staged).await;
                return received;
            }
            let (blob, type_file) = (self.blob(key), self.type_file(key));
            for dir in [parent(&blob), parent(&type_file)] {
                tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
            }
            tokio::fs::write(&type_file, content_type)
                .await
                .map_err(io_error)?;
            tokio::fs::rename(&staged, &blob).await.map_err(io_error)?;
            Ok(())
        }
        .await;
        if let Err(refused @ (ReceiveError::TooLarge | ReceiveError::WrongType(_))) = &result {
            self.remember_refusal(key, refused).await?;
        }
        self.notify(key, &result);
        result
    }

    /// How an earlier upload to `key` was refused, if it was: the URL's
    /// verdict stands, so sending again gets the same answer (and never a
    /// 200 for bytes that would be thrown away).
    pub async fn refusal(&self, key: &str) -> Option<ReceiveError> {
        check_key(key).ok()?;
        let kind = tokio::fs::read_to_string(self.refusal_file(key))
            .await
            .ok()?;
        Some(match kind.split_once(':') {
            Some(("wrong-type", content_type)) => ReceiveError::WrongType(content_type.into()),
            _ => ReceiveError::TooLarge,
        })
    }

    async fn remember_refusal(&self, key: &str, refused: &ReceiveError) -> Result<(), ObjectError> {
        let kind = match refused {
            ReceiveError::WrongType(content_type) => format!("wrong-type:{content_type}"),
            _ => "too-large".to_string(),
        };
        let file = self.refusal_file(key);
        tokio::fs::create_dir_all(parent(&file))
            .await
            .map_err(io_error)?;
        tokio::fs::write(&file, kind).await.map_err(io_error)
    }

    /// Tells the listener how an upload to `key` ended: stored, or refused
    /// for what it was (an interrupted or mis-sized request is no verdict).
    fn notify(&self, key: &str, result: &Result<(), ReceiveError>) {
        let key = key.to_string();
        match result {
            Ok(()) => self.events.push(ObjectEvent::Created(key)),
            Err(refused @ (ReceiveError::TooLarge | ReceiveError::WrongType(_))) => {
                let reason = refused.to_string();
                self.events.push(ObjectEvent::Refused { key, reason })
            }
            Err(_) => {}
        }
    }
}

/// How many first bytes are enough to tell a file's type.
const HEAD_BYTES: usize = 16;

async fn stream_to_file<E>(
    path: &Path,
    content_type: &str,
    length: u64,
    mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<(), ReceiveError> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::File::create(path).await.map_err(io_error)?;
    let (mut received, mut head) = (0u64, Vec::with_capacity(HEAD_BYTES));
    while let Some(data) = body.next().await {
        let data = data.map_err(|_| ReceiveError::Interrupted)?;
        received += data.len() as u64;
        if received > length {
            return Err(ReceiveError::TooLarge);
        }
        if head.len() < HEAD_BYTES {
            let wanted = (HEAD_BYTES - head.len()).min(data.len());
            head.extend_from_slice(&data[..wanted]);
            let decided = head.len() == HEAD_BYTES || received == length;
            if decided && !head_matches(content_type, &head) {
                return Err(ReceiveError::WrongType(content_type.to_string()));
            }
        }
        file.write_all(&data).await.map_err(io_error)?;
    }
    if received != length {
        return Err(ReceiveError::WrongLength);
    }
    file.sync_all().await.map_err(io_error)?;
    Ok(())
}

fn io_error(error: std::io::Error) -> ObjectError {
    ObjectError::Internal(format!("local object store: {error}"))
}
