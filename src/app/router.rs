//! Every route in one place: each resource's router with its own state,
//! the system routes, the OpenAPI document and Swagger UI, the local
//! object store's URLs, all inside the one stack of middleware.

use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use super::Application;
use std::sync::Arc;

use crate::config::Runtime;
use crate::http::middleware::{self, Layers, Service};
use crate::http::openapi::{self, ApiDoc};
use crate::http::ratelimit::TrustedProxies;
use crate::http::response_cache::ResponseCache;
use crate::http::throttle::Throttle;
use crate::http::{docs, files, system};
use crate::{account, blog, site, todos, uploads};

/// The API routes and the OpenAPI document that describes them (`/files`,
/// the local stand-in for S3, is not part of the API).
pub fn api(app: &Application) -> (Router, utoipa::openapi::OpenApi) {
    let streams = app.config.runtime == Runtime::Server;
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::router().with_state(app.system_state()))
        .merge(todos::router(streams).with_state(app.todos_state()))
        .merge(blog::router().with_state(app.reactions.blog.clone()))
        .merge(uploads::router().with_state(app.reactions.uploads.clone()))
        .merge(account::router().with_state(app.account_state()))
        .split_for_parts();
    openapi::complete(&mut document);
    openapi::state_shared_rules(&mut document);
    uploads::state_rules(&mut document, &app.config.uploads);
    (router, document)
}

/// The routes whose GET answers the response cache keeps: each renders
/// what it reads through the read cache, and nothing else.
const CACHED_ROUTES: [&str; 4] = ["/todos", "/todos/{id}", "/blog/posts", "/blog/posts/{slug}"];

/// The whole service, with `extra` routes inside the middleware (tests add
/// some).
pub fn service(app: &Application, extra: impl FnOnce(Router) -> Router) -> Service {
    let (routes, openapi) = api(app);
    let mut routes = routes
        .merge(docs::openapi_json(&openapi))
        .merge(docs::router());
    if let Some(local) = &app.backends.local_objects {
        routes = routes.merge(files::router(local.clone()));
    }
    if app.backends.local_site.is_some() {
        // The generated website, for whatever no API route takes.
        let site = app.reactions.site.clone();
        routes = routes.fallback_service(axum::routing::get(site::serve).with_state(site));
    }
    let layers = Layers {
        verifier: app.backends.verifier.clone(),
        metrics: app.metrics.clone(),
        cors_origins: app.config.cors_origins.clone(),
        request_timeout: app.config.request_timeout,
        body_timeout: app.config.body_timeout,
        responses: Arc::new(ResponseCache {
            cache: app.backends.cache.clone(),
            routes: CACHED_ROUTES.to_vec(),
        }),
        throttle: Arc::new(Throttle::new(
            app.config.throttle,
            TrustedProxies(app.config.trusted_proxy_hops),
        )),
    };
    middleware::wrap(extra(routes), layers)
}
