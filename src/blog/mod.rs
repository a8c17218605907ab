//! The blog: public, read-mostly posts written by the Cognito group
//! `authors`.
//!
//! Public reads are built for a CDN in front: strong ETags, 304 on
//! `If-None-Match`, and `Cache-Control: public` with `s-maxage` and
//! `stale-while-revalidate`, while anything user-specific (an author looking
//! at a draft, every write) stays `private, no-store`. Reads go through the
//! table's cache, and writes through it too, so an author's edit shows on
//! this instance at once.
//!
//! Visitors subscribe by email (`subscribers`) and get exactly one welcome
//! email, sent as a reaction to the stored subscriber ([`welcome`]).

mod author;
mod letters;
pub mod model;
pub mod photos;
mod posts;
mod render;
mod subscriber;
mod subscribers;
mod view;
pub mod welcome;

pub use model::{Post, Status};
pub use render::{markdown_to_safe_html, markdown_to_text};

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::config::BlogConfig;
use crate::http::ratelimit::{Budget, TrustedProxies};
use crate::mail::Mailer;
use crate::store::Table;

/// The group whose members write posts, each changing only their own.
pub const AUTHORS: &str = "authors";
/// The group whose members may change anyone's posts.
pub const EDITORS: &str = "editors";

/// What the blog's routes and its welcome reaction use.
#[derive(Clone)]
pub struct BlogState {
    /// The table, behind its read cache.
    pub table: Arc<dyn Table>,
    /// Sends the welcome email.
    pub mailer: Arc<dyn Mailer>,
    /// The per-address budget of `POST /blog/subscribers`.
    pub subscribe_limiter: Arc<Budget<IpAddr>>,
    /// The blog's name, for mail and pages.
    pub config: BlogConfig,
    /// The service's address as readers reach it, for unsubscribe links.
    pub public_url: String,
    /// Proxies in front of the service, to find a subscriber's address.
    pub proxies: TrustedProxies,
}

impl FromRef<BlogState> for TrustedProxies {
    fn from_ref(state: &BlogState) -> Self {
        state.proxies
    }
}

/// The `/blog` routes.
pub fn router() -> OpenApiRouter<BlogState> {
    OpenApiRouter::new()
        .routes(routes!(posts::list_posts, posts::create_post))
        .routes(routes!(
            posts::get_post,
            posts::replace_post,
            posts::update_post,
            posts::delete_post
        ))
        .routes(routes!(subscribers::subscribe))
        .routes(routes!(
            subscribers::unsubscribe_page,
            subscribers::unsubscribe_by_post,
            subscribers::unsubscribe_by_delete
        ))
}
