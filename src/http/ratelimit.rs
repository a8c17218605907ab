//! Request budgets: a token bucket per caller (`governor`'s GCRA), counted
//! in memory. Per instance: behind a load balancer each instance keeps its
//! own count, so a caller's effective budget is the instance's times the
//! instances it reaches.
//!
//! Every budget describes itself in the IETF headers
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "reads";q=100;w=2`
//! (up to `q` requests, refilled over `w` seconds) and, per answer,
//! `RateLimit: "reads";r=97;t=1` (`r` left, full again in `t` seconds).

use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::error::ApiError;

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Callers not seen for a while are forgotten every this many checks, so
/// the buckets of a million one-off addresses do not stay.
const PRUNE_EVERY: u64 = 1 << 16;

pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// One named budget, a bucket per key.
pub struct Budget<K: Hash + Eq + Clone> {
    name: &'static str,
    limiter: Limiter<K>,
    burst: u32,
    refill: Duration,
    policy: HeaderValue,
    checks: AtomicU64,
}

/// What a budget said of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let through, with this many more allowed right now.
    Pass { remaining: u32 },
    /// Refused: the next request is allowed after this long.
    Refuse { wait: Duration },
}

impl<K: Hash + Eq + Clone> Budget<K> {
    /// Up to `burst` requests at once, one more allowed every `refill`.
    pub fn new(name: &'static str, burst: NonZeroU32, refill: Duration) -> Self {
        let quota = Quota::with_period(refill.max(Duration::from_nanos(1)))
            .expect("a period above zero")
            .allow_burst(burst);
        let window = (refill * burst.get()).as_secs_f64().ceil().max(1.0);
        let policy = format!("\"{name}\";q={burst};w={window}");
        Self {
            name,
            limiter: RateLimiter::keyed(quota).with_middleware(),
            burst: burst.get(),
            refill,
            policy: HeaderValue::from_str(&policy).expect("a name is a token"),
            checks: AtomicU64::new(0),
        }
    }

    /// `per_second` requests a second, with two seconds' worth at once.
    pub fn per_second(name: &'static str, per_second: NonZeroU32) -> Self {
        let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("two"));
        Self::new(name, burst, Duration::from_secs(1) / per_second.get())
    }

    /// Counts one request of `key`.
    pub fn check(&self, key: &K) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        match self.limiter.check_key(key) {
            Ok(state) => Verdict::Pass {
                remaining: state.remaining_burst_capacity(),
            },
            Err(not_until) => Verdict::Refuse {
                wait: not_until.wait_time_from(self.limiter.clock().now()),
            },
        }
    }

    /// The `RateLimit-Policy` and `RateLimit` headers of `verdict`.
    pub fn describe(&self, verdict: Verdict) -> [(HeaderName, HeaderValue); 2] {
        let (remaining, reset) = match verdict {
            Verdict::Pass { remaining } => (remaining, self.refill * (self.burst - remaining)),
            Verdict::Refuse { wait } => (0, wait),
        };
        // On every answer: pushed (not formatted) into one buffer the
        // header value then owns, since this runs on every request.
        let mut digits = itoa::Buffer::new();
        let mut state = String::with_capacity(self.name.len() + 32);
        state.push('"');
        state.push_str(self.name);
        state.push_str("\";r=");
        state.push_str(digits.format(remaining));
        state.push_str(";t=");
        state.push_str(digits.format(whole_seconds(reset)));
        let state = HeaderValue::try_from(state).expect("a name is a token");
        [(RATELIMIT_POLICY, self.policy.clone()), (RATELIMIT, state)]
    }

    /// The 429 for a refused request.
    pub fn refusal(&self, wait: Duration, who: &str) -> ApiError {
        ApiError::TooManyRequests(
            format!("too many requests from {who}; try again later"),
            whole_seconds(wait).max(1),
        )
    }
}

/// `duration` in whole seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The client's address: the TCP peer, or, behind `hops` trusted proxies
/// (`APP_TRUSTED_PROXY_HOPS`), the address those proxies saw, read from the
/// right of `X-Forwarded-For` (entries further left are the client's own
/// claims and can be forged).
pub struct ClientIp(pub IpAddr);

/// How many proxies in front of the service append to `X-Forwarded-For`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustedProxies(pub usize);

impl TrustedProxies {
    /// The client's address as these proxies let us know it; `None` when
    /// the connection's peer is unknown.
    pub fn client(self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let hops = self.0;
        if hops > 0
            && forwarded.len() >= hops
            && let Ok(ip) = forwarded[forwarded.len() - hops].parse()
        {
            return Some(ip);
        }
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        TrustedProxies::from_ref(state)
            .client(&parts.headers, &parts.extensions)
            .map(Self)
            .ok_or_else(|| ApiError::BadRequest("the client address is unknown".into()))
    }
}
