//! The service's one stack of tower layers, outermost first: request id,
//! tracing, metrics, problem bodies, panic catching, compression, CORS,
//! timeout, the body's pause deadline, body limit, default `Cache-Control`,
//! then the caller's steps (authentication, the throttle, a kept answer),
//! then axum's router, and inside each route its own steps (the writes'
//! deadline, the response cache keeping the answer).
//!
//! The stack wraps the router, not each route: a kept answer is sent
//! before routing ([`super::response_cache`]), through every layer a
//! routed answer goes through.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tower::util::{BoxCloneSyncService, MapRequestLayer, MapResponseLayer};
use tower::{ServiceBuilder, ServiceExt as _};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{TimeoutBody, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::error::{RETRY_AFTER_SECS, problem};
use super::extract::JSON_BODY_LIMIT;
use super::metrics::Metrics;
use super::response_cache::ResponseCache;
use super::throttle::Throttle;
use crate::auth::Verifier;

/// What the layers need.
pub struct Layers {
    /// Checks bearer tokens.
    pub verifier: Arc<Verifier>,
    /// Counts and times requests.
    pub metrics: Arc<Metrics>,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a request body may pause before it is answered 408.
    pub body_timeout: Duration,
    /// Kept GET answers.
    pub responses: Arc<ResponseCache>,
    /// Each caller's request budgets.
    pub throttle: Arc<Throttle>,
}

/// The whole service, as the runtimes serve it.
pub type Service = BoxCloneSyncService<Request, Response, Infallible>;

/// Wraps `routes` in the stack.
pub fn wrap(routes: Router, layers: Layers) -> Service {
    let x_request_id = HeaderName::from_static("x-request-id");
    let body_timeout = layers.body_timeout;
    let routes = routes.layer(middleware::from_fn_with_state(
        Arc::new(RouteSteps {
            request_timeout: layers.request_timeout,
            responses: layers.responses.clone(),
        }),
        route_steps,
    ));
    let front = CallerSteps {
        steps: Arc::new(Steps {
            verifier: layers.verifier,
            throttle: layers.throttle,
            responses: layers.responses,
        }),
        routes,
    };
    let stack = ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(SetRequestIdLayer::new(
            x_request_id.clone(),
            MakeRequestUuid,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(middleware::from_fn_with_state(layers.metrics, track))
        .layer(MapResponseLayer::new(problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            problem(StatusCode::INTERNAL_SERVER_ERROR, None, vec![])
        }))
        .layer(compression())
        .layer(cors(&layers.cors_origins))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            layers.request_timeout,
        ))
        .layer(MapRequestLayer::new(move |request: Request| {
            request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)))
        }))
        // For axum's own body extractors; `ApiJson` applies its own limit.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .service(front);
    BoxCloneSyncService::new(stack)
}

/// Counts and times every request ([`Metrics`]).
async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    super::metrics::track(&metrics, request, |request| next.run(request)).await
}

/// The steps before routing: who is calling, their budget, and a kept
/// answer. A plain service, not a `from_fn` layer, which would clone and
/// box the rest of the stack on every request.
#[derive(Clone)]
struct CallerSteps {
    steps: Arc<Steps>,
    routes: Router,
}

struct Steps {
    verifier: Arc<Verifier>,
    throttle: Arc<Throttle>,
    responses: Arc<ResponseCache>,
}

impl tower::Service<Request> for CallerSteps {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (steps, routes) = (self.steps.clone(), self.routes.clone());
        Box::pin(async move { Ok(steps.run(request, routes).await) })
    }
}

impl Steps {
    async fn run(&self, request: Request, routes: Router) -> Response {
        let request = super::auth::authenticate(&self.verifier, request).await;
        super::throttle::throttle(&self.throttle, request, |mut request| async move {
            if let Some(kept) = self.responses.answer(&mut request) {
                return kept;
            }
            match routes.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
        .await
    }
}

/// What each route's own steps need.
struct RouteSteps {
    request_timeout: Duration,
    responses: Arc<ResponseCache>,
}

/// Each route's own steps: the deadline of the request's writes (the same
/// as the timeout's, see `store::deadline`), and the response cache keeping
/// the answer. Also names the route, which only the router knows, for the
/// handler's log lines (the request's span) and the metrics (the answer's
/// extensions).
async fn route_steps(
    State(steps): State<Arc<RouteSteps>>,
    request: Request,
    next: Next,
) -> Response {
    let deadline = std::time::Instant::now() + steps.request_timeout;
    let route = request.extensions().get::<MatchedPath>().cloned();
    if let Some(route) = &route {
        tracing::Span::current().record("route", route.as_str());
    }
    let answer =
        super::response_cache::serve(&steps.responses, request, |request| next.run(request));
    let mut response = crate::store::deadline::within(deadline, answer).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Gives error responses that have no body of their own (axum's 404 and
/// 405, a timeout's 503) the problem+json body every other error has, and
/// a 503 the `Retry-After` every other 503 has. (Outside the panic catcher,
/// whose 500 already has its body.)
fn problem_for_bare_errors<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = response.status();
    if status.as_u16() < 400 || response.headers().contains_key(header::CONTENT_TYPE) {
        return response.map(Body::new);
    }
    let (parts, _) = response.into_parts();
    let mut replaced = problem(status, None, vec![]);
    let headers = replaced.headers_mut();
    // The old length was the empty body's; the problem has its own.
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_LENGTH)
    {
        headers.entry(name).or_insert(value.clone());
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(RETRY_AFTER_SECS));
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
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            super::ratelimit::RATELIMIT,
            super::ratelimit::RATELIMIT_POLICY,
        ])
        .max_age(Duration::from_secs(3600))
}
