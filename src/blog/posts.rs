//! HTTP handlers for `/blog/posts`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::BlogState;
use super::author::Author;
use super::model::{self, CreatePost, Post, ReplacePost, Status, UpdatePost};
use super::photos;
use super::view::PostView;
use crate::http::conditional::{IfMatch, IfNoneMatch, content_etag};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::listing::{Listing, page_limit};
use crate::http::openapi::ProblemResponse;
use crate::ids::Slug;
use crate::keys;
use crate::store::{Condition, Cursor, Index, Query, Read, StoreError, Write};

/// What a CDN may do with a public read: serve it for a minute to browsers,
/// five minutes from the edge, and a further ten while it revalidates.
pub const PUBLIC_CACHE: &str = "public, max-age=60, s-maxage=300, stale-while-revalidate=600";

/// The JSON limit of a post's writes: room for every post within the field
/// limits however its text is escaped (50,000 characters as `\uXXXX`
/// surrogate pairs are 600,000 bytes), so the limits a client checks are
/// the characters of each field.
pub const POST_JSON_LIMIT: usize = 1024 * 1024;

/// Query parameters of `GET /blog/posts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// Published posts, newest first. Public; cacheable by a CDN.
#[utoipa::path(get, path = "/blog/posts", tag = "blog", params(ListParams),
    responses(
        (status = 200, body = Listing<PostView>, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304),
        (status = 400, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn list_posts(
    State(state): State<BlogState>,
    ApiQuery(params): ApiQuery<ListParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let query = Query {
        index: Index::Gsi1,
        ascending: false,
        limit: page_limit(params.limit, 10, 50)?,
        cursor: params.cursor.as_deref().map(Cursor::decode).transpose()?,
        ..Query::partition(keys::PUBLISHED_POSTS)
    };
    let page = state.table.query(&query, Read::Eventual).await?;
    let body = Listing::of(page, |item| model::from_item(item).map(PostView::from))?;
    let bytes = json_bytes(&body);
    Ok(public(&if_none_match, content_etag(&bytes), bytes))
}

/// One post. Published posts are public and cacheable; drafts exist only
/// for authors (404 for everyone else).
#[utoipa::path(get, path = "/blog/posts/{slug}", tag = "blog", params(("slug" = String, Path)),
    responses(
        (status = 200, body = PostView, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304),
        (status = 404, response = ProblemResponse),
    ))]
pub async fn get_post(
    State(state): State<BlogState>,
    author: Option<Author>,
    ApiPath(slug): ApiPath<Slug>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let post = load(&state, &slug, Read::Eventual).await?;
    let owner = author.is_some_and(|author| author.owns(&post));
    match post.status {
        Status::Published => {
            let tag = etag(&post);
            Ok(public(
                &if_none_match,
                tag,
                json_bytes(&PostView::from(post)),
            ))
        }
        Status::Draft if owner => Ok(with_etag(&post, StatusCode::OK)),
        Status::Draft => Err(ApiError::NotFound),
    }
}

/// Write a post (group `authors`). The slug comes from the title unless
/// given; a slug in use → 409.
#[utoipa::path(post, path = "/blog/posts", tag = "blog", request_body = CreatePost,
    security(("bearer" = [])),
    responses(
        (status = 201, body = PostView, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn create_post(
    State(state): State<BlogState>,
    author: Author,
    ApiJson(input): ApiJson<CreatePost, POST_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    let name = author.user.display_name();
    let post = input.into_post(author.user.id(), name)?;
    let post = photos::attach(state.table.as_ref(), author.user.id(), post).await?;
    let post = model::rendered(post).await?;
    let writes = vec![
        Write::Put {
            item: model::to_item(&post),
            condition: Condition::NotExists,
        },
        model::authored_pointer(&post),
    ];
    match state.table.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            return Err(ApiError::Conflict(format!(
                "a post with the slug `{}` exists; choose another slug",
                post.slug
            )));
        }
        Err(error) => return Err(error.into()),
    }
    let mut response = with_etag(&post, StatusCode::CREATED);
    let location = HeaderValue::from_str(&format!("/blog/posts/{}", post.slug))
        .expect("a slug is a valid header value");
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Replace a post's content (group `authors`). `If-Match` as for PATCH.
#[utoipa::path(put, path = "/blog/posts/{slug}", tag = "blog", params(("slug" = String, Path)),
    request_body = ReplacePost, security(("bearer" = [])),
    responses(
        (status = 200, body = PostView, headers(("ETag" = String))),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn replace_post(
    State(state): State<BlogState>,
    author: Author,
    ApiPath(slug): ApiPath<Slug>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ReplacePost, POST_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    change(&state, &author, &slug, &if_match, |post| {
        input.apply_to(post)
    })
    .await
}

/// Change some fields of a post (group `authors`). Send `If-Match` with the
/// ETag you read to be sure nobody changed it since (412 if they did).
#[utoipa::path(patch, path = "/blog/posts/{slug}", tag = "blog", params(("slug" = String, Path)),
    request_body = UpdatePost, security(("bearer" = [])),
    responses(
        (status = 200, body = PostView, headers(("ETag" = String))),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn update_post(
    State(state): State<BlogState>,
    author: Author,
    ApiPath(slug): ApiPath<Slug>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<UpdatePost, POST_JSON_LIMIT>,
) -> Result<Response, ApiError> {
    change(&state, &author, &slug, &if_match, |post| {
        input.apply_to(post)
    })
    .await
}

/// Delete a post (group `authors`; `If-Match` optional).
#[utoipa::path(delete, path = "/blog/posts/{slug}", tag = "blog", params(("slug" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
    ))]
pub async fn delete_post(
    State(state): State<BlogState>,
    author: Author,
    ApiPath(slug): ApiPath<Slug>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let current = load(&state, &slug, Read::Strong).await?;
    author.may_change(&current)?;
    let write = if_match.check(&etag(&current), "post")?;
    let key = keys::post(&slug);
    write
        .delete(state.table.as_ref(), key, current.version)
        .await?;
    // Apart, so a lost race above stays a 412; a pointer left by a crash
    // here points at nothing, which its readers skip.
    let pointer = keys::authored(&current.author, &slug);
    state.table.delete(pointer, Condition::None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read-modify-write on the latest version, guarded by `If-Match` and by
/// the version the change was made from.
async fn change(
    state: &BlogState,
    author: &Author,
    slug: &Slug,
    if_match: &IfMatch,
    edit: impl FnOnce(Post) -> Result<Post, ApiError>,
) -> Result<Response, ApiError> {
    let current = load(state, slug, Read::Strong).await?;
    author.may_change(&current)?;
    let write = if_match.check(&etag(&current), "post")?;
    let expected = current.version;
    let edited = photos::attach(state.table.as_ref(), author.user.id(), edit(current)?).await?;
    let updated = model::rendered(edited).await?;
    let item = model::to_item(&updated);
    write.put(state.table.as_ref(), item, expected).await?;
    Ok(with_etag(&updated, StatusCode::OK))
}

/// The post at `slug`; 404 when there is none (and, through [`ApiPath`],
/// for a malformed slug).
async fn load(state: &BlogState, slug: &Slug, read: Read) -> Result<Post, ApiError> {
    let item = state.table.get(&keys::post(slug), read).await?;
    let item = item.ok_or(ApiError::NotFound)?;
    model::from_item(&item)
}

/// A post's ETag: its version, and its creation time so that a slug deleted
/// and written again never repeats an old tag a cache may hold.
fn etag(post: &Post) -> String {
    format!(
        "\"{}.{}\"",
        post.created_at.unix_timestamp_nanos(),
        post.version
    )
}

/// A private (`no-store`, the service's default) answer with the post's ETag.
fn with_etag(post: &Post, status: StatusCode) -> Response {
    let tag = HeaderValue::from_str(&etag(post)).expect("an ETag is a valid header value");
    let view = PostView::from(post.clone());
    (status, [(header::ETAG, tag)], axum::Json(view)).into_response()
}

fn json_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("a response body serializes")
}

/// A public, CDN-cacheable JSON answer with ETag `tag`; a matching
/// `If-None-Match` gets 304 with no body.
fn public(if_none_match: &IfNoneMatch, tag: String, body: Vec<u8>) -> Response {
    let headers = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, PUBLIC_CACHE.to_string()),
    ];
    if if_none_match.hits(&tag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let mut response = (headers, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
