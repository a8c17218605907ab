//! Routes about the service itself: health, readiness, the caller's
//! identity, metrics and the local issuer's public keys.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::{Profile, User};
use super::error::{ApiError, RETRY_AFTER_SECS};
use super::metrics::Metrics;
use super::openapi::ProblemResponse;
use crate::auth::LocalIssuer;
use crate::store::{CachedTable, Table};

/// What the system routes read.
#[derive(Clone)]
pub struct SystemState {
    /// The table, for readiness.
    pub table: Arc<dyn Table>,
    /// The read cache, for its size on `/metrics`.
    pub cache: Arc<CachedTable>,
    pub metrics: Arc<Metrics>,
    /// Present when tokens are minted locally: its keys are published.
    pub local_issuer: Option<Arc<LocalIssuer>>,
}

pub fn router() -> OpenApiRouter<SystemState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(me))
        .route("/metrics", get(metrics))
        .route("/.well-known/jwks.json", get(jwks))
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "alive")))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// How long the store may take to answer a readiness check. A load
/// balancer's probe gives up after about 5 s; a store that slow is not
/// ready for traffic either.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// Readiness: the backends answer, within [`READINESS_DEADLINE`].
#[utoipa::path(get, path = "/readyz", tag = "system", responses(
    (status = 200, description = "ready"),
    (status = 503, response = ProblemResponse),
))]
pub async fn readyz(State(state): State<SystemState>) -> Result<impl IntoResponse, ApiError> {
    let failure = match tokio::time::timeout(READINESS_DEADLINE, state.table.health()).await {
        Ok(Ok(())) => {
            let ready = json!({ "status": "ready", "checks": { "store": "ok" } });
            return Ok(axum::Json(ready));
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {READINESS_DEADLINE:?}"),
    };
    tracing::warn!(%failure, "readiness check failed");
    Err(ApiError::Unavailable(RETRY_AFTER_SECS))
}

/// Who the bearer token says you are.
#[utoipa::path(get, path = "/me", tag = "system", security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 401, response = ProblemResponse),
))]
pub async fn me(user: User) -> axum::Json<Profile> {
    axum::Json(user.profile())
}

/// Prometheus text exposition.
async fn metrics(State(state): State<SystemState>) -> Response {
    let body = state.metrics.render(state.cache.bytes());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The local issuer's public keys (404 when tokens come from Cognito).
async fn jwks(State(state): State<SystemState>) -> Response {
    match &state.local_issuer {
        Some(issuer) => axum::Json(issuer.jwks().clone()).into_response(),
        None => ApiError::NotFound.into_response(),
    }
}
