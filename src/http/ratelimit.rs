//! A per-client request budget: at most `limit` requests per `window` from
//! one address, counted in memory (per instance; behind a load balancer each
//! instance keeps its own count, so the effective limit is per instance).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;

pub struct RateLimiter {
    hits: moka::sync::Cache<IpAddr, Arc<AtomicU32>>,
    limit: u32,
    window: Duration,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            // A fixed window that starts with a client's first request.
            hits: moka::sync::Cache::builder()
                .time_to_live(window)
                .max_capacity(100_000)
                .build(),
            limit,
            window,
        }
    }

    /// Counts one request from `client`; 429 with `Retry-After` over budget.
    pub fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        let count = self.hits.get_with(client, || Arc::new(AtomicU32::new(0)));
        if count.fetch_add(1, Ordering::Relaxed) < self.limit {
            Ok(())
        } else {
            Err(ApiError::TooManyRequests(
                "too many requests from this address; try again later".into(),
                self.window.as_secs().max(1),
            ))
        }
    }
}

/// The client's address: the TCP peer, or, behind `hops` trusted proxies
/// (`APP_TRUSTED_PROXY_HOPS`), the address those proxies saw, read from the
/// right of `X-Forwarded-For` (entries further left are the client's own
/// claims and can be forged).
pub struct ClientIp(pub IpAddr);

/// How many proxies in front of the service append to `X-Forwarded-For`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustedProxies(pub usize);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let TrustedProxies(hops) = TrustedProxies::from_ref(state);
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        if hops > 0
            && forwarded.len() >= hops
            && let Ok(ip) = forwarded[forwarded.len() - hops].parse()
        {
            return Ok(Self(ip));
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| Self(peer.ip()))
            .ok_or_else(|| ApiError::BadRequest("the client address is unknown".into()))
    }
}
