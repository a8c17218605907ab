//! The [`ObjectStore`] trait on Amazon S3, through aws-sdk-s3.
//!
//! Presigned URLs are signed locally by the SDK (SigV4, no request to S3);
//! an upload URL signs its content type and length, so S3 refuses a body of
//! another size or type.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{Object, ObjectError, ObjectInfo, ObjectStore, Presigned, check_key};
use crate::clock::now_epoch;

pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError> {
        check_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.code() == Some("NoSuchKey") => return Ok(None),
            Err(error) => return Err(object_error(error)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| ObjectError::Unavailable(e.to_string()))?
            .into_bytes();
        Ok(Some(Object {
            body,
            content_type: output.content_type,
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(object_error)?;
            found.extend(page.contents().iter().filter_map(|object| {
                Some(ObjectInfo {
                    key: object.key()?.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                })
            }));
        }
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<Presigned, ObjectError> {
        check_key(key)?;
        let length = i64::try_from(content_length)
            .map_err(|_| ObjectError::BadKey("content length out of range".into()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(object_error)?;
        Ok(presigned(request, expires_in))
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Presigned, ObjectError> {
        check_key(key)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(object_error)?;
        Ok(presigned(request, expires_in))
    }

    fn describe(&self) -> String {
        format!("s3 bucket {}", self.bucket)
    }
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, ObjectError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| ObjectError::Internal(e.to_string()))
}

fn presigned(request: PresignedRequest, expires_in: Duration) -> Presigned {
    Presigned {
        method: request.method().to_string(),
        url: request.uri().to_string(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        expires_at: now_epoch() + expires_in.as_secs(),
    }
}

pub(super) fn object_error<E>(error: SdkError<E, crate::aws::HttpResponse>) -> ObjectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = crate::aws::failure(&error);
    if failure.transient {
        ObjectError::Unavailable(failure.detail)
    } else {
        ObjectError::Internal(failure.detail)
    }
}
