//! Lambda: the same router behind `lambda_http` (Function URLs, API Gateway
//! REST and HTTP APIs, ALB), or the event dispatcher for DynamoDB Streams and
//! S3 notifications. Everything the two share with the TCP server (state,
//! SDK clients, routes) is built once per execution environment, before the
//! first event, and reused by every invocation.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, Uri};
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::{LambdaEvent, RequestExt, service_fn};
use serde_json::Value;
use tower::ServiceExt;

use crate::http::emf::Emf;
use crate::reactions::Reactions;

/// Serves `router` for HTTP events until the execution environment is shut
/// down.
pub async fn serve_http(
    router: crate::http::middleware::Service,
) -> Result<(), lambda_http::Error> {
    let service = tower::service_fn(move |request: lambda_http::Request| {
        let router = router.clone();
        async move {
            let (request, prefix) = as_direct_request(request);
            let request = request.map(axum::body::Body::new);
            let mut response = router.oneshot(request).await?;
            restore_prefix(&mut response, &prefix);
            Ok::<_, Infallible>(response)
        }
    });
    lambda_http::run(service).await
}

/// Serves DynamoDB Stream batches and S3 notifications through
/// [`super::events::dispatch`], writing what each invocation did as an
/// EMF document.
pub async fn serve_events(reactions: Reactions, emf: Emf) -> Result<(), lambda_http::Error> {
    let emf = Arc::new(emf);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let reactions = reactions.clone();
        let emf = emf.clone();
        async move {
            let answer = super::events::dispatch(&reactions, &event.payload).await;
            emf.record_service();
            answer.map_err(lambda_http::Error::from)
        }
    });
    lambda_http::lambda_runtime::run(handler).await
}

/// Makes a request that came through Lambda look like one that came over
/// TCP, and says what the client's path had in front of the route.
///
/// - `lambda_http` puts an API Gateway stage at the front of the path
///   (`/prod/todos`); it comes off, so every mapping reaches the same routes.
/// - The client may have used a prefix (the stage in an `execute-api` URL, a
///   custom domain's base path): it is returned so that [`restore_prefix`]
///   can put it back on `Location`.
/// - The client's address from the event becomes the peer address that rate
///   limits use. ALB events carry none; there the client is the last
///   `X-Forwarded-For` entry (`APP_TRUSTED_PROXY_HOPS=1`).
fn as_direct_request(mut request: lambda_http::Request) -> (lambda_http::Request, String) {
    let (stage, client_path, source_ip) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.stage.clone(),
            context.path.clone(),
            context.identity.source_ip.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(context)) => (
            context.stage.clone(),
            Some(request.raw_http_path().to_string()),
            context.http.source_ip.clone(),
        ),
        _ => (None, None, None),
    };
    if let Some(uri) = stage.and_then(|stage| without_stage(request.uri(), &stage)) {
        *request.uri_mut() = uri;
    }
    let prefix = client_path
        .as_deref()
        .and_then(|path| path.strip_suffix(request.uri().path()))
        .filter(|prefix| prefix.starts_with('/'))
        .unwrap_or_default()
        .to_string();
    if let Some(ip) = source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    (request, prefix)
}

/// Puts the client's path prefix back on a `Location` that points into
/// this service, so a client behind `/prod` is sent to `/prod/todos/{id}`.
fn restore_prefix(response: &mut Response, prefix: &str) {
    let Some(location) = response.headers().get(LOCATION) else {
        return;
    };
    let location = location.to_str().unwrap_or_default();
    if prefix.is_empty() || !location.starts_with('/') || location.starts_with("//") {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{prefix}{location}")) {
        response.headers_mut().insert(LOCATION, value);
    }
}

/// `uri` without a leading `/{stage}` segment, if it has one.
fn without_stage(uri: &Uri, stage: &str) -> Option<Uri> {
    if stage.is_empty() || stage == "$default" {
        return None;
    }
    let rest = uri.path().strip_prefix('/')?.strip_prefix(stage)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    path_and_query.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(uri: &str, stage: &str) -> Option<String> {
        without_stage(&uri.parse().unwrap(), stage).map(|uri| uri.to_string())
    }

    #[test]
    fn the_stage_comes_off_the_front_of_the_path_only() {
        assert_eq!(
            strip("/prod/todos?limit=2", "prod").unwrap(),
            "/todos?limit=2"
        );
        assert_eq!(strip("/prod", "prod").unwrap(), "/");
        assert_eq!(strip("/prod/", "prod").unwrap(), "/");
        assert_eq!(strip("/production/todos", "prod"), None);
        assert_eq!(strip("/todos/prod", "prod"), None);
        assert_eq!(strip("/todos", "$default"), None);
        assert_eq!(strip("/todos", ""), None);
    }
}
