//! Completion: the reaction to an upload's object landing (an S3
//! ObjectCreated record on Lambda, the local object store's notification on a
//! laptop).
//!
//! It checks the object's size against the declared one and its first bytes
//! against the declared type, makes thumbnails of images, and marks the
//! upload ready, or failed with a reason (deleting the object). Only a
//! pending upload is completed, with a conditional write on its version, so
//! a redelivered or racing event changes nothing; bytes that land again on
//! a completed upload (an S3 URL is reusable until it expires) are checked
//! again, and deleted when they fail.

use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

use super::UploadsState;
use super::inspect::{self, content_matches, is_image};
use super::model::{self, ImageSize, Status, Thumbnail, Upload};
use crate::ids::UserId;
use crate::keys;
use crate::large_work;
use crate::reaction::ReactionError;
use crate::store::{Condition, Read, Write};

/// Thumbnailing one image may take at most this long.
const THUMBNAIL_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Handles "object `key` was created".
pub async fn on_object_created(state: &UploadsState, key: &str) -> Result<(), ReactionError> {
    let Some((owner, upload)) = pending_or_done(state, key).await? else {
        return Ok(()); // thumbnails, deleted uploads, anything else: not ours
    };
    let Some(object) = state.objects.get(key).await? else {
        return Ok(());
    };
    match upload.status {
        Status::Pending => {}
        // An S3 upload URL stays usable until it expires, so bytes can land
        // again after completion: a failed upload keeps none, and a ready
        // one must still hold what was checked (a redelivery passes this).
        Status::Failed => return delete_object(state, key).await,
        Status::Ready if still_valid(&upload, &object.body) => return Ok(()),
        Status::Ready => {
            delete_object(state, key).await?;
            let reason = "the file was replaced by content that fails the checks".to_string();
            let failed = finish(upload.clone(), Status::Failed, Some(reason), vec![]);
            return save(state, &owner, &failed, upload.version).await;
        }
    }
    let finished = match check(&upload, object.body).await {
        Ok(Checked { image, thumbnails }) => {
            store_thumbnails(state, &thumbnails).await?;
            let mut ready = finish(upload.clone(), Status::Ready, None, thumbnails);
            ready.image = image;
            ready
        }
        Err(reason) => {
            delete_object(state, key).await?;
            finish(upload.clone(), Status::Failed, Some(reason), vec![])
        }
    };
    save(state, &owner, &finished, upload.version).await
}

/// The upload whose object is at `key`, with its owner; `None` when the key
/// is no upload's (a thumbnail) or its upload is gone.
async fn pending_or_done(
    state: &UploadsState,
    key: &str,
) -> Result<Option<(UserId, Upload)>, ReactionError> {
    let Some((owner, id)) = keys::parse_upload_object(key) else {
        return Ok(None);
    };
    let item = state
        .table
        .get(&keys::upload(&owner, id), Read::Strong)
        .await?;
    let Some(item) = item else {
        return Ok(None); // deleted, or never created through the API
    };
    let upload = model::from_item(&item).map_err(|e| ReactionError::Drop(e.to_string()))?;
    Ok((upload.key == key).then_some((owner, upload)))
}

/// Writes the upload's new state if it is still at `expected` (else a
/// concurrent delivery already did).
async fn save(
    state: &UploadsState,
    owner: &UserId,
    upload: &Upload,
    expected: u64,
) -> Result<(), ReactionError> {
    let write = Write::Put {
        item: model::to_item(owner, upload),
        condition: Condition::version_is(expected),
    };
    state.table.write_if(write).await?;
    Ok(())
}

async fn delete_object(state: &UploadsState, key: &str) -> Result<(), ReactionError> {
    Ok(state.objects.delete(key).await?)
}

/// The cheap checks again, for an object that was already accepted.
fn still_valid(upload: &Upload, body: &[u8]) -> bool {
    body.len() as u64 == upload.size && content_matches(&upload.content_type, body)
}

/// Marks the pending upload at `key` failed for `reason` (the local store
/// refused its bytes while they arrived).
pub async fn on_object_refused(
    state: &UploadsState,
    key: &str,
    reason: &str,
) -> Result<(), ReactionError> {
    let Some((owner, upload)) = pending_or_done(state, key).await? else {
        return Ok(());
    };
    if upload.status != Status::Pending {
        return Ok(());
    }
    let failed = finish(upload.clone(), Status::Failed, Some(reason.into()), vec![]);
    save(state, &owner, &failed, upload.version).await
}

/// What an accepted object gave: an image's size and its thumbnails.
#[derive(Default)]
struct Checked {
    image: Option<ImageSize>,
    thumbnails: Vec<(Thumbnail, Bytes)>,
}

/// Size, type and (for images) thumbnails; `Err` is the reason to refuse.
async fn check(upload: &Upload, body: Bytes) -> Result<Checked, String> {
    if body.len() as u64 != upload.size {
        return Err(format!(
            "{} bytes arrived, {} were declared",
            body.len(),
            upload.size
        ));
    }
    if !content_matches(&upload.content_type, &body) {
        return Err(format!("the content is not {}", upload.content_type));
    }
    if !is_image(&upload.content_type) {
        return Ok(Checked::default());
    }
    let work = large_work::run(move || inspect::thumbnails(&body));
    let encoded = tokio::time::timeout(THUMBNAIL_TIME_LIMIT, work)
        .await
        .map_err(|_| "the image took too long to process".to_string())?
        .map_err(|e| format!("thumbnailing failed: {e}"))??;
    let image = Some(ImageSize {
        width: encoded.width,
        height: encoded.height,
    });
    let thumbnails = encoded
        .encoded
        .into_iter()
        .map(|e| {
            let thumbnail = Thumbnail {
                size: e.size,
                width: e.width,
                height: e.height,
                key: keys::thumbnail_object(&upload.key, e.size),
            };
            (thumbnail, Bytes::from(e.jpeg))
        })
        .collect();
    Ok(Checked { image, thumbnails })
}

async fn store_thumbnails(
    state: &UploadsState,
    thumbnails: &[(Thumbnail, Bytes)],
) -> Result<(), ReactionError> {
    for (thumbnail, jpeg) in thumbnails {
        let jpeg = jpeg.clone();
        state
            .objects
            .put(&thumbnail.key, jpeg, "image/jpeg")
            .await?;
        state.thumbnails_made.inc();
    }
    Ok(())
}

fn finish(
    mut upload: Upload,
    status: Status,
    reason: Option<String>,
    thumbnails: Vec<(Thumbnail, Bytes)>,
) -> Upload {
    upload.status = status;
    upload.reason = reason;
    upload.thumbnails = thumbnails.into_iter().map(|(t, _)| t).collect();
    upload.updated_at = OffsetDateTime::now_utc();
    upload.version += 1;
    upload
}
