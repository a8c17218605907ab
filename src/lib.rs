//! atrium: one Axum service for a to-do app, a blog and per-user file storage,
//! on AWS or on a laptop.
//!
//! A tour, top down:
//! - [`app`] builds the router: every route in one place, one stack of tower
//!   layers around it.
//! - [`state`] holds what lives as long as the process: config, the table
//!   (behind its cache), the object store, the mailer, the token verifier,
//!   metrics. It picks each backend (embedded or AWS) from [`config`].
//! - [`todos`] is a resource module: handlers, models, validation.
//! - [`store`] is the DynamoDB-shaped item API with its backends (embedded
//!   redb, DynamoDB), the [`store::CachedTable`] that stands where DAX
//!   stands, and `migrate`.
//! - [`objects`] (S3 or signed local files) and [`mail`] (SES v2 or an
//!   outbox) are the other two backends; [`aws`] configures the SDK once.
//! - [`auth`] verifies Cognito-shaped JWTs, and issues them locally.
//! - [`error`] renders every failure as `application/problem+json`.
//! - [`runtime`] serves the router over TCP with graceful shutdown.

pub mod allocator;
pub mod auth;
pub mod aws;
pub mod blog;
pub mod conditional;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod listing;
pub mod mail;
pub mod metrics;
pub mod objects;
pub mod ratelimit;
pub mod runtime;
mod secret_file;
pub mod state;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod todos;
pub mod uploads;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::problem;
use crate::extract::JSON_BODY_LIMIT;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "atrium", description = "To-dos, a blog and file uploads behind Cognito sign-in."),
    modifiers(&BearerAuth),
    components(schemas(error::Problem, error::FieldError)),
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document and the routes it describes.
/// (`/files/...`, the local object store's presigned URLs, stands in for S3
/// and is not part of the API.)
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::router())
        .merge(todos::router())
        .merge(blog::router())
        .merge(uploads::router())
        .split_for_parts();
    (routes.merge(objects::files_router()), openapi)
}

/// The whole service as one router.
pub fn app(state: AppState) -> Router {
    let (routes, openapi) = routes();
    let routes = routes.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi));
    with_middleware(routes, state)
}

/// Wraps routes in the service's tower layers, outermost first: request id,
/// tracing, metrics, panic catching, problem bodies, compression, CORS,
/// timeout, body limit, default `Cache-Control`, authentication.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(
            x_request_id.clone(),
            MakeRequestUuid,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            problem(StatusCode::INTERNAL_SERVER_ERROR, None, vec![])
        }))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(compression())
        .layer(cors(&state.config.cors_origins))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    routes.layer(layers).with_state(state)
}

/// Gives error responses that have no body of their own (axum's 404 and
/// 405, a timeout's 503) the problem+json body every other error has.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut replaced = problem(status, None, vec![]);
    for (name, value) in &parts.headers {
        replaced.headers_mut().entry(name).or_insert(value.clone());
    }
    replaced
}

/// Compresses only what pays. Below about a packet, gzip saves nothing on
/// the wire yet costs CPU at both ends, and the `Vary: Accept-Encoding` it
/// must add costs more than the work (it made a cached single-todo read 8%
/// slower). CloudFront, in front, draws the same line at 1,000 bytes. Images
/// and event streams are left alone, as by default.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(COMPRESS_FROM_BYTES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    CompressionLayer::new().compress_when(predicate)
}

/// The smallest response body that is compressed.
pub const COMPRESS_FROM_BYTES: u16 = 1000;

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600))
}
