//! `GET /me/export`: one JSON document of everything the service holds
//! about the caller, written as it is read, a page of 100 items at a time,
//! so an account of any size costs the same memory.
//!
//! The status and headers go out before the first page is read, so a store
//! failure half-way cannot become an error status any more: the body is cut
//! off instead, and the client, left with JSON that does not parse, asks
//! again. Everything is read strongly, past the cache: an export is rare
//! and must be current.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::AccountState;
use crate::blog::{self, Post};
use crate::http::auth::{Profile, User};
use crate::http::error::ApiError;
use crate::http::openapi::ProblemResponse;
use crate::ids::UserId;
use crate::keys;
use crate::store::{Cursor, Item, Query, Read, attr};
use crate::todos::model::{self as todos, Todo};
use crate::uploads::{self, model::UploadView};

/// Items read per page.
const PAGE: usize = 100;

/// Everything the service holds about you. The handler writes it piece by
/// piece; this type is its description in the OpenAPI document.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // never built: the document is streamed
pub struct Export {
    /// When the export was made (RFC 3339).
    #[schema(format = DateTime)]
    exported_at: String,
    /// Who you are, as `GET /me` shows.
    user: Profile,
    /// Your todos, as `GET /todos/{id}` shows each.
    todos: Vec<Todo>,
    /// Your uploads, with download URLs valid for a few minutes.
    uploads: Vec<UploadView>,
    /// The posts you wrote, drafts included.
    posts: Vec<Post>,
}

/// The document's lists, in order, with the sort-key prefix of each.
const PARTS: [(&str, &str); 3] = [
    ("todos", keys::TODO_PREFIX),
    ("uploads", keys::UPLOAD_PREFIX),
    ("posts", keys::AUTHORED_PREFIX),
];

/// Download everything the service holds about you, as one JSON document.
#[utoipa::path(get, path = "/me/export", tag = "system", security(("bearer" = [])), responses(
    (status = 200, body = Export, headers(("Content-Disposition" = String))),
    (status = 401, response = ProblemResponse),
))]
pub async fn export(State(state): State<AccountState>, user: User) -> Result<Response, ApiError> {
    let exported_at = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let head = format!(
        "{{\"exported_at\":{},\"user\":{}",
        serde_json::to_string(&exported_at).map_err(internal)?,
        serde_json::to_string(&user.profile()).map_err(internal)?,
    );
    let writer = Writer {
        state,
        owner: user.id().clone(),
        part: 0,
        cursor: None,
        written: 0,
    };
    let pages = futures_util::stream::unfold(Some(writer), |writer| async move {
        let mut writer = writer?;
        match writer.next_page().await {
            Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Some(writer))),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "export cut off");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
        }
    });
    let first =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) });
    // Fused: layers around it (gzip) may poll again after the end.
    let body = Body::from_stream(first.chain(pages).fuse());
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"export.json\"",
        ),
    ];
    Ok((headers, body).into_response())
}

/// Where the document is: which list, and where in it.
struct Writer {
    state: AccountState,
    owner: UserId,
    part: usize,
    cursor: Option<Cursor>,
    /// Entries written to the current list (for the commas).
    written: usize,
}

impl Writer {
    /// The next piece of the document: the next page of the current list
    /// (opening or closing it as needed); `None` after the closing brace.
    async fn next_page(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(&(name, prefix)) = PARTS.get(self.part) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        if self.cursor.is_none() && self.written == 0 {
            out.extend_from_slice(format!(",\"{name}\":[").as_bytes());
        }
        let mut query = Query::partition(keys::user_partition(&self.owner));
        query.sort_prefix = prefix.into();
        query.limit = PAGE;
        query.cursor = self.cursor.take();
        let page = self.state.table.query(&query, Read::Strong).await?;
        for item in &page.items {
            if let Some(entry) = self.entry(name, item).await? {
                if self.written > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&entry);
                self.written += 1;
            }
        }
        match page.next {
            Some(next) => self.cursor = Some(next),
            None => {
                out.push(b']');
                self.part += 1;
                self.written = 0;
                if self.part == PARTS.len() {
                    out.push(b'}');
                }
            }
        }
        Ok(Some(out))
    }

    /// One entry of list `name`, as JSON; `None` for a pointer to a post
    /// that is gone or no longer the caller's.
    async fn entry(&self, name: &str, item: &Item) -> Result<Option<Vec<u8>>, ApiError> {
        let json = match name {
            "todos" => to_json(&todos::from_item(item)?),
            "uploads" => {
                let upload = uploads::model::from_item(item)?;
                to_json(&uploads::view(self.state.objects.as_ref(), upload).await?)
            }
            _ => match self.post(item).await? {
                Some(post) => to_json(&post),
                None => return Ok(None),
            },
        };
        json.map(Some)
    }

    async fn post(&self, pointer: &Item) -> Result<Option<Post>, ApiError> {
        let sk = pointer
            .get(attr::SK)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let Some(slug) = keys::authored_slug(sk) else {
            return Ok(None);
        };
        let Some(item) = self
            .state
            .table
            .get(&keys::post(&slug), Read::Strong)
            .await?
        else {
            return Ok(None);
        };
        let post = blog::model::from_item(&item)?;
        Ok((post.author == self.owner).then_some(post))
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(internal)
}

fn internal(error: serde_json::Error) -> ApiError {
    ApiError::Internal(error.to_string())
}
