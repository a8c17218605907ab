//! The site's machine-read files: the Atom feed, the sitemap and
//! robots.txt, written with maud like the pages (escaped by default).

use maud::html;
use time::OffsetDateTime;

use super::pages::{SiteInfo, excerpt, home_path, post_path, rfc3339};
use crate::blog::Post;

/// The Atom feed of the newest posts.
pub fn feed(site: &SiteInfo, posts: &[&Post]) -> String {
    let updated = posts
        .iter()
        .map(|p| p.updated_at)
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let xml = html! {
        feed xmlns="http://www.w3.org/2005/Atom" {
            title { (site.name) }
            id { (site.base_url) "/" }
            link href={ (site.base_url) "/" } {}
            link rel="self" href={ (site.base_url) "/feed.xml" } {}
            updated { (rfc3339(updated)) }
            @for post in posts {
                entry {
                    title { (post.title) }
                    id { (site.base_url) "/" (post_path(post)) }
                    link href={ (site.base_url) "/" (post_path(post)) } {}
                    published { (rfc3339(post.published_at.unwrap_or(post.created_at))) }
                    updated { (rfc3339(post.updated_at)) }
                    author { name { (post.author_name.as_deref().unwrap_or(&site.name)) } }
                    summary { (excerpt(post)) }
                    content type="html" { (post.body_html) }
                }
            }
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
        xml.into_string()
    )
}

/// Every page a search engine should know.
pub fn sitemap(site: &SiteInfo, posts: &[&Post], pages: usize) -> String {
    let xml = html! {
        urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" {
            @for page in 1..=pages {
                url { loc { (site.base_url) "/" (home_path(page)) } }
            }
            @for post in posts {
                url {
                    loc { (site.base_url) "/" (post_path(post)) }
                    lastmod { (rfc3339(post.updated_at)) }
                }
            }
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
        xml.into_string()
    )
}

pub fn robots(site: &SiteInfo) -> String {
    format!(
        "User-agent: *\nAllow: /\nSitemap: {}/sitemap.xml\n",
        site.base_url
    )
}
