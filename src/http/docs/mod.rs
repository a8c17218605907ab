//! `/openapi.json`, and `/docs`: Swagger UI over it, served from the binary
//! so it works on a laptop with no network. build.rs takes the bundle, stylesheet
//! and favicons out of the vendored distribution; the page and its start
//! script are ours. Text files are kept gzipped and sent as they are to
//! clients that accept gzip (every browser), unpacked for the others.

use std::io::Read as _;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use bytes::Bytes;
use flate2::read::GzDecoder;
use utoipa::openapi::OpenApi;

use super::error::ApiError;

/// One file under `/docs/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzipped: bool,
}

const fn plain(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type,
        bytes,
        gzipped: false,
    }
}

const fn gzipped(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type,
        bytes,
        gzipped: true,
    }
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: [Asset; 6] = [
    plain("", HTML, include_bytes!("index.html")),
    plain("start.js", JS, include_bytes!("start.js")),
    gzipped(
        "swagger-ui-bundle.js",
        JS,
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.gz")),
    ),
    gzipped(
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.gz")),
    ),
    plain(
        "favicon-32x32.png",
        "image/png",
        include_bytes!(concat!(env!("OUT_DIR"), "/favicon-32x32.png")),
    ),
    plain(
        "favicon-16x16.png",
        "image/png",
        include_bytes!(concat!(env!("OUT_DIR"), "/favicon-16x16.png")),
    ),
];

/// `/openapi.json`: the document, serialized once.
pub fn openapi_json<S: Clone + Send + Sync + 'static>(document: &OpenApi) -> Router<S> {
    let json = Bytes::from(serde_json::to_vec(document).expect("the OpenAPI document serializes"));
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    Router::new().route(
        "/openapi.json",
        get(move || async move { (content_type, json) }),
    )
}

/// The files change only with the binary: a day in caches is safe.
const CACHE_CONTROL: &str = "public, max-age=86400";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/docs", get(|| async { Redirect::permanent("docs/") }))
        .route("/docs/", get(|headers: HeaderMap| async move { serve("", &headers) }))
        .route(
            "/docs/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }),
        )
}

fn serve(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or(ApiError::NotFound)?;
    let content_type = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    if !asset.gzipped {
        return Ok((content_type, asset.bytes).into_response());
    }
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip(headers) {
        let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return Ok((content_type, [vary, encoding], asset.bytes).into_response());
    }
    let mut unpacked = Vec::new();
    GzDecoder::new(asset.bytes)
        .read_to_end(&mut unpacked)
        .map_err(|e| ApiError::Internal(format!("unpacking /docs/{name}: {e}")))?;
    Ok((content_type, [vary], unpacked).into_response())
}

/// Whether `Accept-Encoding` names gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}
