//! The response cache: what API Gateway's cache does for public routes,
//! made correct for authenticated callers. A GET on one of the routes the
//! composition root names is answered from the bytes of an earlier answer
//! to the same caller, path and query, with no read, decode or serialise,
//! for as long as everything that answer was rendered from is still current
//! in the read cache. The answer is a memo of the read cache
//! ([`crate::store::cached`]): a write through this instance retires exactly
//! the answers made from what it changed, by the same path that keeps the
//! read cache right, and an answer never outlives the TTL of its data.
//!
//! What an answer may depend on is all in its key or handled here:
//! - the caller (anonymous callers share one key; a token's subject has its
//!   own), so one user's answer never reaches another;
//! - `If-None-Match` is answered here from the kept `ETag`: the handler
//!   runs without it, so the kept answer is always the full 200;
//! - `Accept-Encoding` is applied outside, by the compression layer, to the
//!   kept identity bytes.
//!
//! Only 200 answers are kept, and only when every read behind them went
//! through the cache.
//!
//! A kept answer is found before routing ([`ResponseCache::answer`], after
//! authentication and the throttle), since a memo exists only for a route
//! whose answers are kept: a hit skips axum's router and the route's own
//! layer, about 9,000 of the 58,000 instructions a hit cost. A miss is
//! routed, and [`serve`], inside the route, keeps its answer.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::auth::User;
use super::conditional::IfNoneMatch;
use super::error::ApiError;
use crate::store::{CachedTable, MemoKey, MemoOf};

/// The cache and the routes it serves.
pub struct ResponseCache {
    pub cache: Arc<CachedTable>,
    /// Route templates (`/todos/{id}`) whose GET answers are kept.
    pub routes: Vec<&'static str>,
}

/// A kept answer: a 200's headers and body, in as little memory as they
/// fit (a `HeaderMap` of three headers takes about 700 bytes, and an
/// encoder's buffer up to twice its body), and the route it answered.
struct Answer {
    headers: Box<[(HeaderName, HeaderValue)]>,
    body: Bytes,
    route: MatchedPath,
}

/// Headers the layers outside add to an answer.
const OUTER_HEADERS: usize = 5;

/// Where a missed answer is to be kept, from [`ResponseCache::answer`] to
/// [`serve`].
#[derive(Clone)]
struct Slot(MemoKey);

impl ResponseCache {
    /// Before routing: a kept answer to `request`, if there is one; if not,
    /// notes on the request where to keep its answer, if it may be kept. A
    /// kept answer carries its route for the metrics, as a routed one does.
    pub fn answer(&self, request: &mut Request) -> Option<Response> {
        if request.method() != Method::GET || !self.may_keep(request.uri().path()) {
            return None;
        }
        let slot = match self.cache.recall(memo_of(request)) {
            Ok(memo) => {
                let Ok(answer) = memo.downcast::<Answer>() else {
                    return Some(
                        ApiError::Internal("a memo of another kind".into()).into_response(),
                    );
                };
                let if_none_match = IfNoneMatch::from_headers(request.headers());
                let mut response = answer.respond(&if_none_match);
                response.extensions_mut().insert(answer.route.clone());
                return Some(response);
            }
            Err(slot) => slot,
        };
        request.extensions_mut().insert(Slot(slot));
        None
    }

    /// Whether `path` fits one of the kept routes' templates (a cheap
    /// test before the lookup; the router decides the route).
    fn may_keep(&self, path: &str) -> bool {
        self.routes.iter().any(|route| fits(route, path))
    }
}

/// Whether `path` has `template`'s segments, a `{parameter}` standing for
/// any non-empty one.
fn fits(template: &str, path: &str) -> bool {
    let mut expected = template.split('/');
    let mut given = path.split('/');
    loop {
        match (expected.next(), given.next()) {
            (None, None) => return true,
            (Some(e), Some(g)) if e == g || (e.starts_with('{') && !g.is_empty()) => {}
            _ => return false,
        }
    }
}

/// After routing, inside the route: runs the handler and keeps its answer
/// where [`ResponseCache::answer`] said to, if the route's answers are kept.
pub async fn serve<F: Future<Output = Response>>(
    responses: &ResponseCache,
    mut request: Request,
    inner: impl FnOnce(Request) -> F,
) -> Response {
    let slot = request.extensions_mut().remove::<Slot>();
    let (Some(Slot(slot)), Some(route)) = (slot, responses.route_of(&request)) else {
        return inner(request).await;
    };
    // Only now a miss: `answer` looks up any path that fits a template,
    // `/todos/changes` too.
    responses.cache.missed();
    let if_none_match = IfNoneMatch::from_headers(request.headers());
    request.headers_mut().remove(header::IF_NONE_MATCH);
    let (response, reads) = CachedTable::recording(inner(request)).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let answer = match Answer::collect(response, route).await {
        Ok(answer) => Arc::new(answer),
        Err(e) => return e.into_response(),
    };
    if let Some(reads) = reads {
        let bytes = answer.weight();
        responses.cache.remember(slot, answer.clone(), bytes, reads);
    }
    answer.respond(&if_none_match)
}

impl ResponseCache {
    /// The route `request` was routed to, if its answers are kept.
    fn route_of(&self, request: &Request) -> Option<MatchedPath> {
        request
            .extensions()
            .get::<MatchedPath>()
            .filter(|route| self.routes.contains(&route.as_str()))
            .cloned()
    }
}

/// The caller's id (empty when anonymous), and the path and query.
fn memo_of(request: &Request) -> MemoOf<'_> {
    let caller = request
        .extensions()
        .get::<User>()
        .map_or("", |user| user.id().as_str());
    let what = request
        .uri()
        .path_and_query()
        .map_or("", |target| target.as_str());
    MemoOf { caller, what }
}

impl Answer {
    async fn collect(response: Response, route: MatchedPath) -> Result<Self, ApiError> {
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|e| ApiError::Internal(format!("reading an answer to keep: {e}")))?;
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(Self {
            headers,
            body: Bytes::copy_from_slice(&body),
            route,
        })
    }

    fn header(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find_map(|(n, value)| (n == name).then_some(value))
    }

    /// Bytes held, for the cache's budget.
    fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| {
                name.as_str().len() + value.len() + size_of::<(HeaderName, HeaderValue)>()
            })
            .sum();
        self.body.len() + headers + size_of::<Self>()
    }

    /// The full answer, or 304 with its `ETag` and `Cache-Control` when
    /// `If-None-Match` names the ETag.
    fn respond(&self, if_none_match: &IfNoneMatch) -> Response {
        if let Some(etag) = self.header(&header::ETAG)
            && if_none_match.hits(etag.to_str().unwrap_or_default())
        {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            for name in [header::ETAG, header::CACHE_CONTROL] {
                if let Some(value) = self.header(&name) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            return response;
        }
        let mut response = Response::new(Body::from(self.body.clone()));
        let headers = response.headers_mut();
        // Room for what the outer layers add (the budget's two headers, the
        // request id, CORS's `Vary`), so the map is not grown on the way out.
        headers.reserve(self.headers.len() + OUTER_HEADERS);
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::fits;

    #[test]
    fn a_path_fits_a_template_segment_by_segment() {
        assert!(fits("/todos", "/todos"));
        assert!(fits("/todos/{id}", "/todos/01J0"));
        assert!(fits("/blog/posts/{slug}", "/blog/posts/hello"));
        assert!(
            !fits("/todos/{id}", "/todos/"),
            "a parameter is never empty"
        );
        assert!(!fits("/todos/{id}", "/todos"));
        assert!(!fits("/todos/{id}", "/todos/a/b"));
        assert!(!fits("/todos", "/todos/"));
        assert!(!fits("/todos", "/healthz"));
    }
}
