//! The blog as a website: static pages generated from the published posts
//! and written to the site store (the site bucket behind CloudFront on AWS,
//! `$APP_DATA_DIR/site/` served at `/` on a laptop).
//!
//! Generation is a reaction to stored post changes, like the welcome
//! email: the DynamoDB stream on AWS, the embedded change feed locally. It
//! renders every page from the published posts and writes only the files
//! whose content changed (their digests are listed once per build), so
//! an edit rewrites its post's page and whichever lists show it, and a
//! second build writes nothing. Drafts are never read: the build starts
//! from the index of published posts.

mod feeds;
mod fresh;
mod media;
pub mod pages;
mod serve;

pub use pages::SiteInfo;
pub use serve::serve;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::blog::{Post, model};
use crate::keys;
use crate::objects::site::{LocalSite, SiteFile, SiteStore};
use crate::objects::{ObjectError, ObjectStore};
use crate::reaction::ReactionError;
use crate::store::{ChangeRecord, Index, Item, Query, Read, StoreError, Table, attr};

/// Posts per home page.
pub const PER_PAGE: usize = 10;
/// Entries in the feed.
pub const FEED_ENTRIES: usize = 20;

/// HTML, feed and sitemap: browsers revalidate at once (a cheap 304),
/// CloudFront keeps a copy for at most a minute. A change is on every
/// reader's screen within 60 seconds, with no invalidation to pay for.
pub const PAGE_CACHE: &str = "public, max-age=0, s-maxage=60, must-revalidate";
/// Content-named files never change.
pub const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// The paths the generator owns: it writes and deletes under these only,
/// so anything else in the bucket is left alone.
pub const GENERATED: [&str; 10] = [
    "index.html",
    "page/",
    "posts/",
    "assets/",
    "media/",
    "feed.xml",
    "sitemap.xml",
    "robots.txt",
    "404.html",
    "subscribed/",
];

/// What the generator reads and writes.
#[derive(Clone)]
pub struct SiteState {
    pub table: Arc<dyn Table>,
    pub store: Arc<dyn SiteStore>,
    /// The uploads, where published photos' originals are read.
    pub objects: Arc<dyn ObjectStore>,
    /// The local directory when it is the store, for serving at `/`.
    pub local: Option<Arc<LocalSite>>,
    pub info: SiteInfo,
    /// Held through a build: two builds of one process never interleave,
    /// so an older view of the posts can't overwrite a newer one.
    pub building: Arc<tokio::sync::Mutex<()>>,
}

/// What one build did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Built {
    pub written: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Files(#[from] ObjectError),
    #[error("a stored post is unreadable: {0}")]
    Post(String),
}

impl From<BuildError> for ReactionError {
    fn from(error: BuildError) -> Self {
        ReactionError::Retry(error.to_string())
    }
}

/// The site's reaction: a change to a post that is, or was, published
/// rebuilds what shows posts (a draft's changes show nowhere).
pub async fn on_change(state: &SiteState, change: &ChangeRecord) -> Result<(), ReactionError> {
    let published =
        |image: Option<&Item>| image.is_some_and(|item| item.contains_key(attr::GSI1PK));
    let shown = published(change.old_image.as_ref()) || published(change.new_image.as_ref());
    if !keys::is_post(&change.key) || !shown {
        return Ok(());
    }
    let built = {
        let _one_at_a_time = state.building.lock().await;
        let posts = fresh::published_showing(state, change).await?;
        fresh::settle(state, posts).await?
    };
    let Built {
        written,
        deleted,
        unchanged,
    } = built;
    tracing::info!(post = %change.key.pk, written, deleted, unchanged, "site rebuilt");
    Ok(())
}

/// Renders every page and brings the store to it.
pub async fn build(state: &SiteState) -> Result<Built, BuildError> {
    let _one_at_a_time = state.building.lock().await;
    let posts = published(state.table.as_ref()).await?;
    fresh::settle(state, posts).await
}

/// Brings the store to the site of `posts`, a view of the index that may
/// already be old: [`fresh::settle`] then builds again from the latest.
pub async fn build_from(state: &SiteState, posts: Vec<Post>) -> Result<Built, BuildError> {
    let _one_at_a_time = state.building.lock().await;
    fresh::settle(state, posts).await
}

/// The site for `posts`, written: changed pages, missing photo copies, and
/// deletions of what is no longer wanted.
async fn write(state: &SiteState, posts: &[Post]) -> Result<Built, BuildError> {
    let mut wanted = render(&state.info, posts);
    let stored = state.store.digests(&GENERATED).await?;
    for photo in media::missing(posts, &stored) {
        wanted.extend(
            media::make(state.objects.as_ref(), photo)
                .await
                .unwrap_or_default(),
        );
    }
    let media = media::wanted(posts);
    sync(state.store.as_ref(), &wanted, &media, &stored).await
}

/// Every published post, newest first, from the index drafts never enter.
async fn published(table: &dyn Table) -> Result<Vec<Post>, BuildError> {
    let mut posts = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query {
            index: Index::Gsi1,
            ascending: false,
            limit: 100,
            cursor,
            ..Query::partition(keys::PUBLISHED_POSTS)
        };
        let page = table.query(&query, Read::Eventual).await?;
        for item in &page.items {
            posts.push(model::from_item(item).map_err(|e| BuildError::Post(format!("{e:?}")))?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(posts),
        }
    }
}

/// Every file of the site for `posts` (published, newest first).
pub fn render(info: &SiteInfo, posts: &[Post]) -> Vec<SiteFile> {
    let all: Vec<&Post> = posts.iter().collect();
    let pages = all.len().div_ceil(PER_PAGE).max(1);
    let html = |path: String, body: String| SiteFile {
        path,
        body: Bytes::from(body),
        content_type: "text/html; charset=utf-8",
        cache_control: PAGE_CACHE,
    };
    let mut files = Vec::with_capacity(posts.len() + pages + 6);
    for page in 1..=pages {
        let shown = all.chunks(PER_PAGE).nth(page - 1).unwrap_or(&[]);
        let body = pages::home(info, shown, page, pages);
        files.push(html(format!("{}index.html", pages::home_path(page)), body));
    }
    for post in posts {
        files.push(html(
            format!("{}index.html", pages::post_path(post)),
            pages::post(info, post),
        ));
    }
    files.push(html("404.html".into(), pages::not_found(info)));
    files.push(html(
        "subscribed/index.html".into(),
        pages::subscribed(info),
    ));
    let newest = &all[..all.len().min(FEED_ENTRIES)];
    let text = |path: &str, body: String, content_type| SiteFile {
        path: path.into(),
        body: Bytes::from(body),
        content_type,
        cache_control: PAGE_CACHE,
    };
    files.push(text(
        "feed.xml",
        feeds::feed(info, newest),
        "application/atom+xml; charset=utf-8",
    ));
    files.push(text(
        "sitemap.xml",
        feeds::sitemap(info, &all, pages),
        "application/xml; charset=utf-8",
    ));
    files.push(text(
        "robots.txt",
        feeds::robots(info),
        "text/plain; charset=utf-8",
    ));
    files.push(SiteFile {
        path: pages::STYLESHEET.path.clone(),
        body: Bytes::from_static(pages::STYLESHEET.css.as_bytes()),
        content_type: "text/css; charset=utf-8",
        cache_control: ASSET_CACHE,
    });
    files
}

/// Writes what changed, deletes what is no longer wanted (neither in
/// `wanted` nor among the photos' copies, `media`).
async fn sync(
    store: &dyn SiteStore,
    wanted: &[SiteFile],
    media: &HashSet<String>,
    stored: &HashMap<String, String>,
) -> Result<Built, BuildError> {
    let mut built = Built::default();
    for file in wanted {
        if stored.get(&file.path) == Some(&file.digest()) {
            built.unchanged += 1;
        } else {
            store.put(file).await?;
            built.written += 1;
        }
    }
    let keep: HashSet<&str> = wanted.iter().map(|f| f.path.as_str()).collect();
    let unwanted = |path: &&String| !keep.contains(path.as_str()) && !media.contains(*path);
    for path in stored.keys().filter(unwanted) {
        store.delete(path).await?;
        built.deleted += 1;
    }
    Ok(built)
}
