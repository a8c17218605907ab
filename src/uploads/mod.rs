//! Uploads: each user's files in their own folder (`users/{sub}/`), sent and
//! fetched through short-lived presigned URLs, checked on arrival, with
//! thumbnails for images.
//!
//! The service never carries the bytes on the S3 path: `POST /uploads`
//! signs a PUT URL for a key it builds itself; the object's arrival
//! triggers [`complete::on_object_created`] (S3 event on Lambda, the local
//! store's notification on a laptop), which checks the content and makes
//! the thumbnails.

pub mod complete;
mod handlers;
pub mod inspect;
pub mod model;

pub use handlers::view;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::config::UploadRules;
use crate::objects::ObjectStore;
use crate::store::Table;

/// What the upload routes and their completion use.
#[derive(Clone)]
pub struct UploadsState {
    /// The table, behind its read cache.
    pub table: Arc<dyn Table>,
    /// Where the bytes live: S3 or the local directory.
    pub objects: Arc<dyn ObjectStore>,
    /// What `POST /uploads` accepts.
    pub rules: UploadRules,
    /// Counts each thumbnail written.
    pub thumbnails_made: Counter,
}

/// The `/uploads` routes.
pub fn router() -> OpenApiRouter<UploadsState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_uploads, handlers::create_upload))
        .routes(routes!(handlers::get_upload, handlers::delete_upload))
}

/// Writes the configured rules into the document: the accepted content
/// types as an enum and the size limit as a maximum.
pub fn state_rules(document: &mut utoipa::openapi::OpenApi, rules: &UploadRules) {
    use crate::http::openapi::property_mut;
    if let Some(types) = property_mut(document, "CreateUpload", "content_type") {
        types.enum_values = Some(rules.types.iter().map(|t| t.as_str().into()).collect());
    }
    if let Some(size) = property_mut(document, "CreateUpload", "size") {
        size.maximum = Some((rules.max_bytes as f64).into());
    }
}
