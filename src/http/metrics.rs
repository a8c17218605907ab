//! Prometheus figures: requests by route and status with latency, and the
//! read cache's hits, misses, evictions and bytes, the response cache's hits
//! and misses. Served at `/metrics`; on Lambda, where nothing scrapes it,
//! also written to the log as CloudWatch metrics ([`super::emf`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::emf::Emf;
use crate::store::CacheStats;
use crate::tally::Tally;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The registry and the handles the middleware updates.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    cache_bytes: Gauge,
    /// Set on Lambda: each request's figures as a log line too.
    emf: Option<Emf>,
}

impl Metrics {
    /// The figures of `cache` and of every request; `emf` writes them to
    /// the log as well, for CloudWatch.
    pub fn new(cache: &CacheStats, tally: &Tally, emf: bool) -> Self {
        let mut registry = Registry::with_prefix("atrium");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
        let cache_bytes = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer",
            latency.clone(),
        );
        register_cache(&mut registry, cache);
        for (name, _, help, counter) in tally.named() {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "cache_bytes",
            "Estimated bytes held by the cache",
            cache_bytes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            cache_bytes,
            emf: emf.then(|| Emf::new(cache, tally)),
        }
    }

    /// The text exposition format.
    pub fn render(&self, cache_bytes: u64) -> String {
        self.cache_bytes
            .set(i64::try_from(cache_bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The read and response caches' counters.
fn register_cache(registry: &mut Registry, cache: &CacheStats) {
    let counters = [
        (
            "cache_hits",
            "Reads answered by the in-process cache",
            &cache.hits,
        ),
        (
            "cache_misses",
            "Reads that went to the table",
            &cache.misses,
        ),
        (
            "cache_pages_patched",
            "Cached pages brought up to date after this instance's writes, without a backend read",
            &cache.patched,
        ),
        (
            "cache_evictions",
            "Cache entries and kept answers dropped for size or age",
            &cache.evictions,
        ),
        (
            "cache_bypassed",
            "Strongly consistent reads, sent to the table past the cache",
            &cache.bypassed,
        ),
        (
            "response_cache_hits",
            "GET answers sent from kept bytes",
            &cache.memo_hits,
        ),
        (
            "response_cache_misses",
            "GET answers rendered by their handler",
            &cache.memo_misses,
        ),
    ];
    for (name, help, counter) in counters {
        registry.register(name, help, counter.clone());
    }
}

/// Counts and times every request under its route template (never the raw
/// path, which would make one series per todo id).
pub async fn track<F: Future<Output = Response>>(
    metrics: &Metrics,
    request: Request,
    inner: impl FnOnce(Request) -> F,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let response = inner(request).await;
    // The route, as the answer names it (the stack is outside the router),
    // also for the request's log line.
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::Span::current().record("route", route);
    let route = route.to_string();
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Some(emf) = &metrics.emf {
        emf.record(&format!("{method} {route}"), status, elapsed);
    }
    let labels = RouteLabels { method, route };
    metrics
        .latency
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    let RouteLabels { method, route } = labels;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status,
        })
        .inc();
    response
}
