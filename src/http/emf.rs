//! The figures of [`super::metrics`] where Lambda can see them: one
//! CloudWatch Embedded Metric Format document per request, written to the
//! log, from which CloudWatch Logs extracts the metrics (namespace `atrium`).
//! On Lambda nothing scrapes `/metrics`, and each instance is short-lived,
//! so its counters would be lost; a log line per request is not.
//!
//! Dimensions stay few: a request's `Route` (method and template, never a
//! raw path) and `Status`; the caches' figures and the [`Tally`] (mail,
//! thumbnails, events), as what changed since the previous document, under
//! `Service` alone. The events function writes one such document per
//! invocation.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde_json::{Map, Value, json};

use crate::store::CacheStats;
use crate::tally::Tally;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "atrium";

/// Writes the documents, remembering each counter as last reported.
pub struct Emf {
    /// The counters reported under `Service`, by metric name.
    counters: Vec<(&'static str, Counter)>,
    reported: Mutex<Vec<u64>>,
}

impl Emf {
    pub fn new(cache: &CacheStats, tally: &Tally) -> Self {
        let mut counters = vec![
            ("CacheHits", cache.hits.clone()),
            ("CacheMisses", cache.misses.clone()),
            ("CacheBypassed", cache.bypassed.clone()),
            ("CachePagesPatched", cache.patched.clone()),
            ("CacheEvictions", cache.evictions.clone()),
            ("ResponseCacheHits", cache.memo_hits.clone()),
            ("ResponseCacheMisses", cache.memo_misses.clone()),
        ];
        for (_, name, _, counter) in tally.named() {
            counters.push((name, counter.clone()));
        }
        let reported = Mutex::new(vec![0; counters.len()]);
        Self { counters, reported }
    }

    /// Writes the document of one answered request to standard error, where
    /// the JSON log goes.
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        write_line(&self.document(route, status, latency));
    }

    /// Writes what the counters did since the last document: after each
    /// invocation of the events function, which answers no request.
    pub fn record_service(&self) {
        write_line(&self.service_document());
    }

    /// The document: the request's figures, and the counters' since the last.
    pub fn document(&self, route: &str, status: u16, latency: Duration) -> Value {
        let mut document = self.service_document();
        let root = document.as_object_mut().expect("an object");
        root.insert("Route".into(), route.into());
        root.insert("Status".into(), status.to_string().into());
        root.insert("Requests".into(), 1.into());
        root.insert("Latency".into(), json!(latency.as_secs_f64() * 1000.0));
        root["_aws"]["CloudWatchMetrics"]
            .as_array_mut()
            .expect("directives")
            .push(json!({
                "Namespace": NAMESPACE,
                "Dimensions": [["Route", "Status"]],
                "Metrics": [
                    { "Name": "Requests", "Unit": "Count" },
                    { "Name": "Latency", "Unit": "Milliseconds" },
                ],
            }));
        document
    }

    /// The counters' figures since the last document, under `Service`.
    pub fn service_document(&self) -> Value {
        let mut root = Map::new();
        root.insert("Service".into(), NAMESPACE.into());
        for ((name, _), delta) in self.counters.iter().zip(self.deltas()) {
            root.insert((*name).into(), delta.into());
        }
        let metrics: Vec<Value> = self
            .counters
            .iter()
            .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
            .collect();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    { "Namespace": NAMESPACE, "Dimensions": [["Service"]], "Metrics": metrics },
                ],
            }),
        );
        Value::Object(root)
    }

    /// How much each counter moved since the last document.
    fn deltas(&self) -> Vec<u64> {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        self.counters
            .iter()
            .zip(reported.iter_mut())
            .map(|((_, counter), last)| {
                let now = counter.get();
                let delta = now.saturating_sub(*last);
                *last = now;
                delta
            })
            .collect()
    }
}

fn write_line(document: &Value) {
    let mut line = document.to_string();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_reports_what_the_cache_did_since_the_last() {
        let stats = CacheStats::default();
        let emf = Emf::new(&stats, &Tally::default());
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
