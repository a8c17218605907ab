//! atrium: one Axum service for a to-do app, a blog and per-user file storage,
//! on AWS or on a laptop.
//!
//! A tour, top down. Each layer imports only from the layers below it
//! (`./scripts/house --check` holds the code to that):
//!
//! - [`app`], the composition root: [`app::Application`] opens the
//!   [`app::Backends`] a [`config::Config`] names, gives each resource its
//!   state, builds the one router ([`app::router`]) and starts the
//!   [`app::Workers`] (the embedded store's purger and change feed, the local
//!   object store's notifications).
//! - [`runtime`] serves the router over TCP with graceful shutdown, or as a
//!   Lambda function; [`runtime::events`] decodes DynamoDB Stream and S3
//!   events for the reactions.
//! - [`reactions`] hands a stored change or an object's arrival to the
//!   resource that owns it; [`reaction`] is what a reaction can fail with.
//! - [`account`]: the caller's data across the resources, exported as one
//!   document or erased (`GET /me/export`, `DELETE /me`).
//! - The resources, one folder each, with handlers, models and their own
//!   reactions: [`todos`], [`blog`] (posts, subscribers, the welcome email),
//!   [`uploads`] (presigned uploads, completion, thumbnails).
//! - [`http`], the toolkit the resources are written with: problem+json
//!   errors, extractors, authentication middleware, conditional requests,
//!   idempotency, listings, rate limits, metrics, the middleware stack, and
//!   the system and `/files` routes.
//! - [`keys`]: every key format of the single table and the object store.
//! - [`config`]: the typed configuration, read once from the environment.
//! - The backends, pure (no HTTP, no resource, their own error types):
//!   [`store`] (the DynamoDB-shaped item API: embedded redb, DynamoDB, and
//!   the [`store::CachedTable`] that stands where DAX stands, plus
//!   `migrate`), [`objects`] (S3 or signed local files), [`mail`] (SES v2 or
//!   an outbox), [`auth`] (Cognito-shaped JWTs, verified and, locally,
//!   issued).
//! - Foundations: [`ids`] (validated ids), [`clock`], [`aws`] (the SDK
//!   configuration and its error classes), [`telemetry`], [`allocator`],
//!   [`bounded`] (a cache bounded in bytes), [`large_work`] (threads for
//!   photo work, which hold its memory while it lasts), and
//!   `secret_file` (keys generated once in the data directory).

pub mod account;
pub mod allocator;
pub mod app;
pub mod auth;
pub mod aws;
pub mod blog;
pub mod bounded;
pub mod clock;
pub mod config;
pub mod http;
pub mod ids;
pub mod keys;
pub mod large_work;
pub mod mail;
pub mod objects;
pub mod reaction;
pub mod reactions;
pub mod runtime;
mod secret_file;
pub mod site;
pub mod store;
pub mod tally;
pub mod telemetry;
pub mod todos;
pub mod uploads;
