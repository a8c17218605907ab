//! Logging: one subscriber for the process, JSON in Lambda and containers,
//! text on a terminal. Request spans carry the method, the route template and
//! the request id; headers are never recorded, so tokens never reach a log.

use std::io::IsTerminal as _;

use axum::http::Request;
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Installs the global subscriber. `RUST_LOG` overrides the default `info`
/// with a level, targets and levels, or both (`warn,atrium=debug`); span
/// and field filters are not supported (they would bring in a regex engine).
pub fn init(json: bool) {
    let spec = std::env::var("RUST_LOG").ok();
    let parsed = spec.as_deref().map(str::parse::<Targets>);
    let filter = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        _ => Targets::new().with_default(LevelFilter::INFO),
    };
    // The builder's own level (INFO unless told) would cap the filter's.
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = if json {
        let subscriber = builder.json().flatten_event(true).finish();
        subscriber.with(filter).try_init()
    } else {
        builder.finish().with(filter).try_init()
    };
    // Already installed (tests start many servers in one process): keep it.
    if result.is_ok()
        && let Some(Err(e)) = parsed
    {
        tracing::warn!(spec, "RUST_LOG is not a filter ({e}): logging at info");
    }
}

/// The span for one request.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        // Recorded once routed: the span starts before the router.
        route = tracing::field::Empty,
        request_id,
    )
}
