//! The figures of [`super::metrics`] where Lambda can see them: one
//! CloudWatch Embedded Metric Format document per request, written to the
//! log, from which CloudWatch Logs extracts the metrics (namespace `atrium`).
//! On Lambda nothing scrapes `/metrics`, and each instance is short-lived,
//! so its counters would be lost; a log line per request is not.
//!
//! Dimensions stay few: a request's `Route` (method and template, never a
//! raw path) and `Status`; the cache's figures, as what changed since the
//! previous document, under `Service` alone.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde_json::{Map, Value, json};

use crate::store::CacheStats;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "atrium";

/// The cache counters reported, by metric name.
const CACHE_METRICS: [&str; 6] = [
    "CacheHits",
    "CacheMisses",
    "CacheBypassed",
    "CacheEvictions",
    "ResponseCacheHits",
    "ResponseCacheMisses",
];

/// Writes the documents, remembering the cache counters as last reported.
pub struct Emf {
    counters: [Counter; 6],
    reported: Mutex<[u64; 6]>,
}

impl Emf {
    pub fn new(cache: &CacheStats) -> Self {
        Self {
            counters: [
                cache.hits.clone(),
                cache.misses.clone(),
                cache.bypassed.clone(),
                cache.evictions.clone(),
                cache.memo_hits.clone(),
                cache.memo_misses.clone(),
            ],
            reported: Mutex::new([0; 6]),
        }
    }

    /// Writes the document of one answered request to standard error, where
    /// the JSON log goes.
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        let mut line = self.document(route, status, latency).to_string();
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// The document: the request's figures, and the cache's since the last.
    pub fn document(&self, route: &str, status: u16, latency: Duration) -> Value {
        let mut root = Map::new();
        root.insert("Service".into(), NAMESPACE.into());
        root.insert("Route".into(), route.into());
        root.insert("Status".into(), status.to_string().into());
        root.insert("Requests".into(), 1.into());
        root.insert("Latency".into(), json!(latency.as_secs_f64() * 1000.0));
        for (name, delta) in CACHE_METRICS.iter().zip(self.cache_deltas()) {
            root.insert((*name).into(), delta.into());
        }
        let cache_metrics: Vec<Value> = CACHE_METRICS
            .iter()
            .map(|name| json!({ "Name": name, "Unit": "Count" }))
            .collect();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Route", "Status"]],
                        "Metrics": [
                            { "Name": "Requests", "Unit": "Count" },
                            { "Name": "Latency", "Unit": "Milliseconds" },
                        ],
                    },
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Service"]],
                        "Metrics": cache_metrics,
                    },
                ],
            }),
        );
        Value::Object(root)
    }

    /// How much each cache counter moved since the last document.
    fn cache_deltas(&self) -> [u64; 6] {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        std::array::from_fn(|i| {
            let now = self.counters[i].get();
            let delta = now.saturating_sub(reported[i]);
            reported[i] = now;
            delta
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_reports_what_the_cache_did_since_the_last() {
        let stats = CacheStats::default();
        let emf = Emf::new(&stats);
        stats.hits.inc_by(3);
        let first = emf.document("GET /todos/{id}", 200, Duration::from_millis(2));
        stats.hits.inc();
        stats.memo_misses.inc();
        let second = emf.document("GET /todos/{id}", 200, Duration::from_millis(2));
        assert_eq!(
            (first["CacheHits"].as_u64(), second["CacheHits"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(second["ResponseCacheMisses"], 1);
        assert_eq!(second["Latency"], 2.0);
        assert_eq!(second["Status"], "200");
    }
}
