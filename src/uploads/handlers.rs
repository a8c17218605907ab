//! HTTP handlers for `/uploads`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::UploadsState;
use super::model::{self, CreateUpload, Status, ThumbnailView, Upload, UploadTicket, UploadView};
use crate::http::auth::User;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::listing::{Listing, page_limit};
use crate::http::openapi::ProblemResponse;
use crate::ids::UploadId;
use crate::keys;
use crate::objects::ObjectStore;
use crate::store::{Condition, Cursor, Key, Query, Read, Write};

/// How long an upload URL is valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a download URL is valid.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);

/// Ask to upload a file: returns the URL to `PUT` it to, with the headers to
/// send (content type and length are signed into it).
#[utoipa::path(post, path = "/uploads", tag = "uploads", request_body = CreateUpload,
    security(("bearer" = [])),
    responses(
        (status = 201, body = UploadTicket),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn create_upload(
    State(state): State<UploadsState>,
    user: User,
    ApiJson(input): ApiJson<CreateUpload>,
) -> Result<Response, ApiError> {
    let upload = input.into_upload(user.id(), &state.rules)?;
    let url = state
        .objects
        .presign_put(
            &upload.key,
            &upload.content_type,
            upload.size,
            UPLOAD_URL_TTL,
        )
        .await?;
    let write = Write::Put {
        item: model::to_item(user.id(), &upload),
        condition: Condition::NotExists,
    };
    state.table.transact(vec![write]).await?;
    let ticket = UploadTicket {
        id: upload.id,
        upload: url,
    };
    Ok((StatusCode::CREATED, axum::Json(ticket)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// Your uploads, oldest first.
#[utoipa::path(get, path = "/uploads", tag = "uploads", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Listing<UploadView>),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
    ))]
pub async fn list_uploads(
    State(state): State<UploadsState>,
    user: User,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<Listing<UploadView>>, ApiError> {
    let query = Query {
        sort_prefix: keys::UPLOAD_PREFIX.into(),
        limit: page_limit(params.limit, 50, 100)?,
        cursor: params.cursor.as_deref().map(Cursor::decode).transpose()?,
        ..Query::partition(keys::user_partition(user.id()))
    };
    let page = state.table.query(&query, Read::Eventual).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for item in &page.items {
        items.push(view(state.objects.as_ref(), model::from_item(item)?).await?);
    }
    Ok(axum::Json(Listing {
        items,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// One of your uploads, with download URLs once it is ready.
#[utoipa::path(get, path = "/uploads/{id}", tag = "uploads", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = UploadView),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    ))]
pub async fn get_upload(
    State(state): State<UploadsState>,
    user: User,
    ApiPath(id): ApiPath<UploadId>,
) -> Result<axum::Json<UploadView>, ApiError> {
    let upload = load(&state, &user, id).await?;
    Ok(axum::Json(view(state.objects.as_ref(), upload).await?))
}

/// Delete one of your uploads: the file, its thumbnails and the record.
#[utoipa::path(delete, path = "/uploads/{id}", tag = "uploads", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    ))]
pub async fn delete_upload(
    State(state): State<UploadsState>,
    user: User,
    ApiPath(id): ApiPath<UploadId>,
) -> Result<StatusCode, ApiError> {
    let upload = load(&state, &user, id).await?;
    for key in std::iter::once(&upload.key).chain(upload.thumbnails.iter().map(|t| &t.key)) {
        state.objects.delete(key).await?;
    }
    let write = Write::Delete {
        key: keys::upload(user.id(), id),
        condition: Condition::None,
    };
    state.table.transact(vec![write]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's upload `id`; 404 for a missing upload and another user's
/// upload alike. A pending one is read again past the cache: completion is
/// written by whichever process handled the storage event (on AWS, the
/// events function), which this process's cache does not hear about.
async fn load(state: &UploadsState, user: &User, id: UploadId) -> Result<Upload, ApiError> {
    let key = keys::upload(user.id(), id);
    let mut upload = read(state, &key, Read::Eventual).await?;
    if upload.status == Status::Pending {
        upload = read(state, &key, Read::Strong).await?;
    }
    Ok(upload)
}

async fn read(state: &UploadsState, key: &Key, read: Read) -> Result<Upload, ApiError> {
    let item = state
        .table
        .get(key, read)
        .await?
        .ok_or(ApiError::NotFound)?;
    model::from_item(&item)
}

/// An upload as its owner sees it, with fresh download URLs when ready.
pub async fn view(objects: &dyn ObjectStore, upload: Upload) -> Result<UploadView, ApiError> {
    let ready = upload.status == Status::Ready;
    let download = match ready {
        true => Some(objects.presign_get(&upload.key, DOWNLOAD_URL_TTL).await?),
        false => None,
    };
    let mut thumbnails = Vec::new();
    for thumbnail in upload.thumbnails.iter().filter(|_| ready) {
        thumbnails.push(ThumbnailView {
            width: thumbnail.width,
            height: thumbnail.height,
            download: objects
                .presign_get(&thumbnail.key, DOWNLOAD_URL_TTL)
                .await?,
        });
    }
    Ok(UploadView {
        id: upload.id,
        filename: upload.filename,
        content_type: upload.content_type,
        size: upload.size,
        status: upload.status,
        reason: upload.reason,
        created_at: upload.created_at,
        download,
        thumbnails,
    })
}
