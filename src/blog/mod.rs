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
//! Visitors subscribe by email and get exactly one welcome email, sent as a
//! reaction to the stored subscriber (see [`subscribers`]).

mod model;
mod posts;
mod render;
pub mod subscribers;

pub use model::{Post, Status};
pub use render::markdown_to_safe_html;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// The group whose members write posts.
pub const AUTHORS: &str = "authors";

/// The `/blog` routes.
pub fn router() -> OpenApiRouter<AppState> {
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
