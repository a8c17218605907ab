//! Throttling on every route, for where no API Gateway stands in front (a
//! container, a laptop): a signed-in caller's requests count against their
//! `sub`'s budgets, `reads` (GET) or `writes` (the rest); an anonymous
//! caller's against their address's `public` budget. Over budget is a 429
//! with `Retry-After`; every answer carries the budget's `RateLimit` and
//! `RateLimit-Policy`. Per instance ([`super::ratelimit`]).
//!
//! It runs after authentication, to know the `sub`, and before the
//! response cache, so that answers from memory count too. A refused token
//! counts against its address and is answered here (401, or 503 without
//! signing keys), so a flood of bad tokens is throttled too. The probes and
//! `/metrics` are never throttled: a load balancer or a scraper hitting
//! them must not lock out an address.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use super::auth::{Refusal, User};
use super::error::ApiError;
use super::ratelimit::{Budget, TrustedProxies, Verdict};
use crate::config::ThrottleRules;
use crate::ids::UserId;

/// Routes no budget applies to.
pub const EXEMPT: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The three budgets, and how to find an anonymous caller's address.
pub struct Throttle {
    reads: Option<Budget<UserId>>,
    writes: Option<Budget<UserId>>,
    public: Option<Budget<IpAddr>>,
    proxies: TrustedProxies,
}

impl Throttle {
    pub fn new(rules: ThrottleRules, proxies: TrustedProxies) -> Self {
        Self {
            reads: rules.reads.map(|rate| Budget::per_second("reads", rate)),
            writes: rules.writes.map(|rate| Budget::per_second("writes", rate)),
            public: rules.public.map(|rate| Budget::per_second("public", rate)),
            proxies,
        }
    }
}

/// Counts the request against its caller's budget: 429 over it, and the
/// budget's headers on the answer either way.
pub async fn throttle<F: Future<Output = Response>>(
    throttle: &Throttle,
    mut request: Request,
    inner: impl FnOnce(Request) -> F,
) -> Response {
    // A refused token is answered here, never by a handler.
    let refusal = request.extensions_mut().remove::<Refusal>();
    if EXEMPT.contains(&request.uri().path()) {
        return match refusal {
            Some(refusal) => refusal.into_error().into_response(),
            None => inner(request).await,
        };
    }
    let reading = request.method() == Method::GET || request.method() == Method::HEAD;
    let budget = match request.extensions().get::<User>() {
        Some(user) if reading => throttle
            .reads
            .as_ref()
            .map(|b| charge(b, user.id(), "this user")),
        Some(user) => throttle
            .writes
            .as_ref()
            .map(|b| charge(b, user.id(), "this user")),
        None => {
            let client = throttle
                .proxies
                .client(request.headers(), request.extensions());
            // An unknown peer (only in-process callers) shares one bucket.
            let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            throttle
                .public
                .as_ref()
                .map(|b| charge(b, &client, "this address"))
        }
    };
    let Some((over_budget, headers)) = budget else {
        return match refusal {
            Some(refusal) => refusal.into_error().into_response(),
            None => inner(request).await,
        };
    };
    let mut response = match (over_budget, refusal) {
        (Some(over_budget), _) => over_budget.into_response(),
        (None, Some(refusal)) => refusal.into_error().into_response(),
        (None, None) => inner(request).await,
    };
    let answer_headers = response.headers_mut();
    for (name, value) in headers {
        answer_headers.insert(name, value);
    }
    response
}

/// Counts one request of `key` against `budget`: the refusal if over it,
/// and the budget's headers for the answer.
fn charge<K: std::hash::Hash + Eq + Clone>(
    budget: &Budget<K>,
    key: &K,
    who: &str,
) -> (Option<ApiError>, [(HeaderName, HeaderValue); 2]) {
    let verdict = budget.check(key);
    let refusal = match verdict {
        Verdict::Pass { .. } => None,
        Verdict::Refuse { wait } => Some(budget.refusal(wait, who)),
    };
    (refusal, budget.describe(verdict))
}
