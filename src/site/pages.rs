//! The site's pages, rendered with maud: HTML checked at compile time and
//! escaped by default; only a post's body, sanitized when it was written,
//! goes in as it is.
//!
//! Every page is plain HTML5 with one small stylesheet, readable with no
//! JavaScript, and carries the subscribe form, which works as an ordinary
//! form POST.

use std::sync::LazyLock;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::blog::Post;
use crate::blog::photos::{Loading, Photo};

/// What every page says about the site.
#[derive(Clone, Debug)]
pub struct SiteInfo {
    pub name: String,
    /// Where readers reach the site, without a trailing slash.
    pub base_url: String,
}

/// The stylesheet, and its path, named by its content so it can be cached
/// for a year.
pub struct Stylesheet {
    pub path: String,
    pub css: &'static str,
}

pub static STYLESHEET: LazyLock<Stylesheet> = LazyLock::new(|| {
    let css = include_str!("style.css");
    let digest = crate::objects::site::digest(css.as_bytes());
    Stylesheet {
        path: format!("assets/style.{}.css", &digest[..12]),
        css,
    }
});

/// What a page tells the `<head>`.
struct Head<'a> {
    title: &'a str,
    description: &'a str,
    /// Relative to the site root: `""`, `posts/hello/`.
    path: &'a str,
    kind: &'a str,
    /// The picture a link preview shows: a site path and its size.
    image: Option<(String, (u32, u32))>,
}

fn layout(site: &SiteInfo, head: &Head, body: Markup) -> String {
    let canonical = format!("{}/{}", site.base_url, head.path);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (head.title) }
                meta name="description" content=(head.description);
                link rel="canonical" href=(canonical);
                // No icon: browsers would otherwise ask for /favicon.ico (a 404).
                link rel="icon" href="data:,";
                link rel="stylesheet" href={ "/" (STYLESHEET.path) };
                link rel="alternate" type="application/atom+xml" title=(site.name) href="/feed.xml";
                meta property="og:site_name" content=(site.name);
                meta property="og:title" content=(head.title);
                meta property="og:description" content=(head.description);
                meta property="og:type" content=(head.kind);
                meta property="og:url" content=(canonical);
                @if let Some((path, (width, height))) = &head.image {
                    meta property="og:image" content={ (site.base_url) "/" (path) };
                    meta property="og:image:width" content=(width);
                    meta property="og:image:height" content=(height);
                }
            }
            body {
                header.site { div.wrap { a href="/" { (site.name) } } }
                main.wrap { (body) }
                footer.site { div.wrap { (subscribe_form(site)) } }
            }
        }
    }
    .into_string()
}

/// A plain form: the API answers it with a redirect to `subscribed/`.
fn subscribe_form(site: &SiteInfo) -> Markup {
    html! {
        form.subscribe method="post" action="/blog/subscribers" {
            label for="email" { "New posts from " (site.name) " by email:" }
            input #email type="email" name="email" required autocomplete="email" placeholder="you@example.com";
            button type="submit" { "Subscribe" }
        }
    }
}

/// One page of the home page's list, newest first.
pub fn home(site: &SiteInfo, posts: &[&Post], page: usize, pages: usize) -> String {
    let path = home_path(page);
    let title = match page {
        1 => site.name.clone(),
        _ => format!("{} (page {page} of {pages})", site.name),
    };
    let description = format!("The newest posts of {}.", site.name);
    let body = html! {
        h1 { (site.name) }
        @if posts.is_empty() {
            p { "Nothing is published yet." }
        }
        ol.posts {
            @for post in posts {
                li {
                    h2 { a href={ "/" (post_path(post)) } { (post.title) } }
                    (byline(post))
                    p { (excerpt(post)) }
                }
            }
        }
        nav.pages aria-label="More posts" {
            @if page > 1 { a href={ "/" (home_path(page - 1)) } rel="prev" { "Newer posts" } } @else { span {} }
            @if page < pages { a href={ "/" (home_path(page + 1)) } rel="next" { "Older posts" } }
        }
    };
    layout(
        site,
        &Head {
            title: &title,
            description: &description,
            path: &path,
            kind: "website",
            image: None,
        },
        body,
    )
}

/// A post's own page.
pub fn post(site: &SiteInfo, post: &Post) -> String {
    let path = post_path(post);
    let description = excerpt(post);
    let title = format!("{} · {}", post.title, site.name);
    let cover = cover(post);
    let body = html! {
        article {
            h1 { (post.title) }
            (byline(post))
            @if let Some(photo) = cover {
                figure.cover { (photo.picture("", Loading::Eager)) }
            }
            (PreEscaped(&post.body_html))
        }
        p { a href="/" { "All posts" } }
    };
    layout(
        site,
        &Head {
            title: &title,
            description: &description,
            path: &path,
            kind: "article",
            image: cover.map(Photo::largest),
        },
        body,
    )
}

/// What a missing page answers.
pub fn not_found(site: &SiteInfo) -> String {
    let body = html! {
        h1 { "Page not found" }
        p { "There is no page at this address. " a href="/" { "All posts" } }
    };
    let head = Head {
        title: "Page not found",
        description: "There is no page at this address.",
        path: "404.html",
        kind: "website",
        image: None,
    };
    layout(site, &head, body)
}

/// Where a subscriber lands after the form.
pub fn subscribed(site: &SiteInfo) -> String {
    let body = html! {
        h1 { "Check your inbox" }
        p { "If the address can receive mail, a welcome message from " (site.name) " is on its way." }
        p { a href="/" { "Back to the posts" } }
    };
    let head = Head {
        title: "Check your inbox",
        description: "A welcome message is on its way.",
        path: "subscribed/",
        kind: "website",
        image: None,
    };
    layout(site, &head, body)
}

/// The post's cover, as one of the photos it shows.
fn cover(post: &Post) -> Option<&Photo> {
    let id = post.cover_upload_id?;
    post.photos.iter().find(|photo| photo.id == id)
}

fn byline(post: &Post) -> Markup {
    let published = post.published_at.unwrap_or(post.created_at);
    html! {
        p.meta {
            time datetime=(rfc3339(published)) { (human_date(published)) }
            @if let Some(name) = &post.author_name { " · " (name) }
        }
    }
}

/// A post's page, as a directory (served by its `index.html`).
pub fn post_path(post: &Post) -> String {
    format!("posts/{}/", post.slug)
}

/// Home page `page` (from 1).
pub fn home_path(page: usize) -> String {
    match page {
        1 => String::new(),
        _ => format!("page/{page}/"),
    }
}

/// The first words of a post's text, for lists and descriptions.
pub fn excerpt(post: &Post) -> String {
    const MAX_CHARS: usize = 200;
    let text = crate::blog::markdown_to_text(&post.body, MAX_CHARS);
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_CHARS).collect();
    let words = cut
        .rsplit_once(' ')
        .map_or(cut.as_str(), |(words, _)| words);
    format!("{}…", words.trim_end_matches([',', '.', ';', ':']))
}

/// To the second: HTML's `datetime` takes at most three decimals.
pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    let seconds = at.replace_nanosecond(0).unwrap_or(at);
    seconds.format(&Rfc3339).unwrap_or_default()
}

fn human_date(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[day padding:none] [month repr:long] [year]"
    ))
    .unwrap_or_default()
}
