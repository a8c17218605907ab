//! The local site at `/`, for a laptop: what CloudFront does on AWS.
//!
//! A path maps to a file under the site directory, a path ending in `/` to
//! its `index.html`, and a directory without the slash is redirected to it
//! (so a post's relative links resolve). Content types come from the
//! extension, caching from the same rules the bucket's objects carry, and
//! a strong ETag from the content answers `If-None-Match` with 304. Any
//! path that could climb out of the directory, and anything missing, gets
//! the site's 404 page when a browser asks (`Accept: text/html`), and the
//! API's problem+json 404 otherwise.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{ASSET_CACHE, PAGE_CACHE, SiteState};
use crate::objects::site::digest;

/// Answers a GET or HEAD that no API route took.
pub async fn serve(
    State(state): State<SiteState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(site) = &state.local else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let decoded = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let relative = decoded.trim_start_matches('/');
    let path = match relative {
        "" => "index.html".to_string(),
        dir if dir.ends_with('/') => format!("{dir}index.html"),
        file => file.to_string(),
    };
    if let Some(body) = site.read(&path).await {
        return file(&path, body, &headers, StatusCode::OK);
    }
    if !relative.is_empty() && !relative.ends_with('/') {
        let index = format!("{relative}/index.html");
        if site.read(&index).await.is_some() {
            return redirect(&format!("/{relative}/"));
        }
    }
    // A browser gets the site's page; an API client the API's problem.
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    match site.read("404.html").await {
        Some(body) if browser => file("404.html", body, &HeaderMap::new(), StatusCode::NOT_FOUND),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn file(path: &str, body: Bytes, request: &HeaderMap, status: StatusCode) -> Response {
    let etag = format!("\"{}\"", digest(&body));
    let cache = if path.starts_with("assets/") || path.starts_with("media/") {
        ASSET_CACHE
    } else {
        PAGE_CACHE
    };
    let headers = [
        (header::CONTENT_TYPE, content_type(path)),
        (header::CACHE_CONTROL, cache),
        (header::ETAG, etag.as_str()),
    ];
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    if matches && status == StatusCode::OK {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (status, headers, body).into_response()
}

fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, location)],
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("xml") if path == "feed.xml" => "application/atom+xml; charset=utf-8",
        Some("xml") => "application/xml; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}
