//! What the cache is configured with and what it reports: its TTL and byte
//! budget, the clock it reads (which tests move forward), its counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// Sizing of the cache.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// How long an entry is served without asking the table again.
    pub ttl: Duration,
    /// The most bytes (estimated heap size of keys and values) kept in
    /// memory, a quarter of it for memos; 0 turns the cache off (every
    /// read goes to the table).
    pub max_bytes: u64,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_bytes: 128 * 1024 * 1024,
            clock: Clock::default(),
        }
    }
}

/// The cache's "now": the monotonic clock plus however far it was moved
/// forward, which only tests do (to see entries expire without waiting).
/// Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicU64>,
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock, and every clone of it, `by` forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Counters exported on `/metrics`. Cloning shares the counters.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    /// Reads answered from memory.
    pub hits: Counter,
    /// Reads that went to the table (one per single-flight group; every
    /// read when the cache is off).
    pub misses: Counter,
    /// Pages made from an older page and this instance's writes since,
    /// without a backend read (counted in `hits` too).
    pub patched: Counter,
    /// Strongly consistent reads, which go to the table past the cache.
    pub bypassed: Counter,
    /// Entries and memos dropped for size or age.
    pub evictions: Counter,
    /// Memos (rendered answers) found current.
    pub memo_hits: Counter,
    /// Memos missing, or made from entries since replaced.
    pub memo_misses: Counter,
}
