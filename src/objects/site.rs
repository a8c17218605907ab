//! Where the generated website lives: the site bucket on AWS (CloudFront
//! serves it; the bucket stays private), a directory on a laptop (this
//! process serves it at `/`).
//!
//! A file's digest is the MD5 of its bytes, which is what S3 reports as the
//! ETag of an object written by one PUT: the site builder lists the digests
//! once and rewrites only the files whose content changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use md5::{Digest, Md5};

use super::local::{blocking, walk};
use super::s3::object_error;
use super::{ObjectError, check_key};

/// One file of the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFile {
    /// Relative to the site's root: `index.html`, `posts/hello/index.html`.
    pub path: String,
    pub body: Bytes,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

impl SiteFile {
    /// The digest [`SiteStore::digests`] reports for this content.
    pub fn digest(&self) -> String {
        digest(&self.body)
    }
}

/// The MD5 of `bytes`, in lower-case hex.
pub fn digest(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The files of the site under `prefixes`, and writing them.
#[async_trait]
pub trait SiteStore: Send + Sync + 'static {
    /// Every file whose path starts with one of `prefixes`, with its digest.
    async fn digests(&self, prefixes: &[&str]) -> Result<HashMap<String, String>, ObjectError>;
    async fn put(&self, file: &SiteFile) -> Result<(), ObjectError>;
    async fn delete(&self, path: &str) -> Result<(), ObjectError>;
    fn describe(&self) -> String;
}

/// The site as files under a directory.
pub struct LocalSite {
    root: PathBuf,
}

impl LocalSite {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The file at `path`, if the site has one; `None` for anything that is
    /// not a plain relative path inside the site.
    pub async fn read(&self, path: &str) -> Option<Bytes> {
        check_key(path).ok()?;
        let file = self.root.join(path);
        tokio::fs::read(file).await.ok().map(Bytes::from)
    }
}

#[async_trait]
impl SiteStore for LocalSite {
    async fn digests(&self, prefixes: &[&str]) -> Result<HashMap<String, String>, ObjectError> {
        let root = self.root.clone();
        let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        blocking(move || {
            let mut found = HashMap::new();
            walk(&root, &root, &mut |path, file| {
                found.insert(path, digest(&std::fs::read(file.path())?));
                Ok(())
            })?;
            found.retain(|path, _| prefixes.iter().any(|p| path.starts_with(p.as_str())));
            Ok(found)
        })
        .await
    }

    /// Written beside and renamed into place, so a reader never sees half.
    async fn put(&self, file: &SiteFile) -> Result<(), ObjectError> {
        check_key(&file.path)?;
        let target = self.root.join(&file.path);
        let body = file.body.clone();
        blocking(move || {
            let dir = target.parent().expect("a site file has a directory");
            std::fs::create_dir_all(dir)?;
            let partial = target.with_extension("partial");
            std::fs::write(&partial, &body)?;
            std::fs::rename(&partial, &target)
        })
        .await
    }

    async fn delete(&self, path: &str) -> Result<(), ObjectError> {
        check_key(path)?;
        let (root, target) = (self.root.clone(), self.root.join(path));
        blocking(move || {
            match std::fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            // Empty folders go too (a deleted post's `posts/{slug}/`).
            let mut dir = target.parent();
            while let Some(current) = dir.filter(|d| *d != root) {
                if std::fs::remove_dir(current).is_err() {
                    break;
                }
                dir = current.parent();
            }
            Ok(())
        })
        .await
    }

    fn describe(&self) -> String {
        format!("files in {}", self.root.display())
    }
}

/// The site in an S3 bucket (the CDK's site bucket, behind CloudFront).
pub struct S3Site {
    client: Client,
    bucket: String,
}

impl S3Site {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl SiteStore for S3Site {
    async fn digests(&self, prefixes: &[&str]) -> Result<HashMap<String, String>, ObjectError> {
        let mut found = HashMap::new();
        for prefix in prefixes {
            let mut pages = (self.client.list_objects_v2())
                .bucket(&self.bucket)
                .prefix(*prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(object_error)?;
                for object in page.contents() {
                    if let (Some(key), Some(etag)) = (object.key(), object.e_tag()) {
                        found.insert(key.to_string(), etag.trim_matches('"').to_string());
                    }
                }
            }
        }
        Ok(found)
    }

    async fn put(&self, file: &SiteFile) -> Result<(), ObjectError> {
        check_key(&file.path)?;
        (self.client.put_object())
            .bucket(&self.bucket)
            .key(&file.path)
            .content_type(file.content_type)
            .cache_control(file.cache_control)
            .body(ByteStream::from(file.body.clone()))
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), ObjectError> {
        check_key(path)?;
        (self.client.delete_object())
            .bucket(&self.bucket)
            .key(path)
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("S3 bucket {}", self.bucket)
    }
}
