//! The HTTP toolkit the resources are written with, and the routes about
//! the service itself. Nothing here knows a resource: the router that merges
//! them is the composition root's ([`crate::app`]).
//!
//! - [`error`]: one error type, rendered as `application/problem+json`.
//! - [`extract`]: JSON, query and path extractors that answer bad input in
//!   that format.
//! - [`auth`]: the middleware that verifies bearer tokens, and [`auth::User`].
//! - [`conditional`]: ETags, `If-None-Match`, and the versioned write behind
//!   `If-Match`.
//! - [`idempotency`]: `Idempotency-Key` on POST.
//! - [`listing`]: the page shape and `limit` of every list.
//! - [`ratelimit`]: a per-address budget and the client's address.
//! - [`response_cache`]: GET answers kept as bytes, as long as their data.
//! - [`metrics`]: Prometheus figures, and the middleware that records them.
//! - [`middleware`]: the one stack of tower layers around every route.
//! - [`openapi`]: the document's frame and shared schemas.
//! - [`system`]: health, readiness, `/me`, `/metrics`, the local JWKS.
//! - [`docs`]: Swagger UI at `/docs`, served from the binary.
//! - [`files`]: the local object store's presigned URLs (`/files/...`).

pub mod auth;
pub mod conditional;
pub mod docs;
pub mod emf;
pub mod error;
pub mod extract;
pub mod files;
pub mod idempotency;
pub mod listing;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ratelimit;
pub mod response_cache;
pub mod system;
pub mod throttle;
pub mod validate;
