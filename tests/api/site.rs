//! The blog as a website: pages generated from the published posts as a
//! reaction to their changes (the embedded change feed here, the DynamoDB
//! stream against moto), served at `/` from `$APP_DATA_DIR/site/`.

use std::path::PathBuf;
use std::time::SystemTime;

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// `path` as a browser asks for it.
async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .request(Method::GET, path, None)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

/// When the generator last wrote the file at `path` of the site.
fn written_at(app: &TestApp, path: &str) -> SystemTime {
    let file: PathBuf = app.config.data_dir.join("site").join(path);
    std::fs::metadata(&file)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[tokio::test]
async fn a_published_post_appears_on_the_site_and_a_draft_never_does() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let hostile = "Hello *reader*.\n\n<script>alert(1)</script> [x](javascript:alert(2)) \
                   <img src=x onerror=alert(3)>";
    app.new_post(
        &ann,
        json!({"title": "First light", "body": hostile, "status": "published"}),
    )
    .await;
    app.new_post(
        &ann,
        json!({"title": "Secret plans", "body": "Not yet.", "slug": "secret-plans"}),
    )
    .await;
    app.drain_reactions().await;

    let (status, home) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(
        home.contains(r#"<a href="/posts/first-light/">First light</a>"#),
        "{home}"
    );
    assert!(home.contains("<html lang=\"en\">"));
    assert!(!home.contains("Secret plans"), "a draft on the home page");

    let (status, post) = page(&app, "/posts/first-light/").await;
    assert_eq!(status, 200);
    assert!(post.contains("<h1>First light</h1>"), "{post}");
    assert!(post.contains("<em>reader</em>"));
    assert!(post.contains("ann"), "the author's name");
    // Raw HTML is shown as text; scripts, handlers and script URLs never run.
    for bad in ["<script", "href=\"javascript:", "<img"] {
        assert!(!post.contains(bad), "{bad} reached the page: {post}");
    }
    assert!(
        post.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{post}"
    );
    let (status, missing) = page(&app, "/posts/secret-plans/").await;
    assert_eq!(status, 404, "a draft's page");
    assert!(missing.contains("Page not found"));

    let (_, feed) = page(&app, "/feed.xml").await;
    assert!(feed.contains("<title>First light</title>") && !feed.contains("Secret plans"));
    assert!(feed.contains("/posts/first-light/"));
    let (_, sitemap) = page(&app, "/sitemap.xml").await;
    assert!(sitemap.contains("/posts/first-light/</loc>") && !sitemap.contains("secret-plans"));
}

#[tokio::test]
async fn edits_unpublishing_and_deletes_show_and_other_pages_stay_untouched() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let published = |title: &str| json!({"title": title, "body": "Words.", "status": "published"});
    let (_, tag) = app.new_post(&ann, published("Alpha")).await;
    app.new_post(&ann, published("Beta")).await;
    app.drain_reactions().await;
    let beta_written = written_at(&app, "posts/beta/index.html");

    let edit = app
        .edit_post(
            Method::PATCH,
            &ann,
            "alpha",
            json!({"title": "Alpha, revised"}),
            Some(&tag),
        )
        .await;
    assert_eq!(edit.status(), 200);
    let tag = header(&edit, "etag");
    app.drain_reactions().await;
    assert!(
        page(&app, "/posts/alpha/")
            .await
            .1
            .contains("Alpha, revised")
    );
    assert!(page(&app, "/").await.1.contains("Alpha, revised"));
    assert!(page(&app, "/feed.xml").await.1.contains("Alpha, revised"));
    assert_eq!(
        written_at(&app, "posts/beta/index.html"),
        beta_written,
        "an edit of another post rewrote this one"
    );

    let unpublish = app
        .edit_post(
            Method::PATCH,
            &ann,
            "alpha",
            json!({"status": "draft"}),
            Some(&tag),
        )
        .await;
    assert_eq!(unpublish.status(), 200);
    app.drain_reactions().await;
    assert_eq!(page(&app, "/posts/alpha/").await.0, 404);
    assert!(!page(&app, "/").await.1.contains("Alpha"));

    let delete = app
        .request(Method::DELETE, "/blog/posts/beta", Some(&ann))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    app.drain_reactions().await;
    assert_eq!(page(&app, "/posts/beta/").await.0, 404);
    let (_, feed) = page(&app, "/feed.xml").await;
    assert!(!feed.contains("Beta") && !feed.contains("Alpha"), "{feed}");
    assert!(page(&app, "/").await.1.contains("Nothing is published yet"));
}

#[tokio::test]
async fn a_second_build_writes_nothing_and_a_long_blog_is_paged() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    for n in 1..=12 {
        let post = json!({"title": format!("Post {n}"), "body": "Words.", "status": "published"});
        app.new_post(&ann, post).await;
    }
    app.drain_reactions().await;
    let site = &app.app.reactions().site;
    let again = atrium::site::build(site).await.unwrap();
    assert_eq!((again.written, again.deleted), (0, 0), "{again:?}");
    assert!(again.unchanged >= 12 + 2, "{again:?}");

    let (_, first) = page(&app, "/").await;
    assert!(
        first.contains("Post 12") && !first.contains(">Post 2<"),
        "newest first"
    );
    assert!(first.contains(r#"href="/page/2/" rel="next""#));
    let (status, second) = page(&app, "/page/2/").await;
    assert_eq!(status, 200);
    assert!(second.contains(">Post 2<") && second.contains(">Post 1<"));
    assert!(second.contains(r#"href="/" rel="prev""#));
}

#[tokio::test]
async fn the_site_is_served_like_a_web_server_would() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    app.new_post(
        &ann,
        json!({"title": "Served", "body": "Words.", "status": "published"}),
    )
    .await;
    app.drain_reactions().await;

    let home = app.get_public("/").await;
    assert_eq!(header(&home, "content-type"), "text/html; charset=utf-8");
    assert!(header(&home, "cache-control").contains("s-maxage=60"));
    let etag = header(&home, "etag");
    let again = app
        .request(Method::GET, "/", None)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let html = home.text().await.unwrap();
    let stylesheet = html
        .split("href=\"/assets/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let css = app.get_public(&format!("/assets/{stylesheet}")).await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
    assert_eq!(
        header(&css, "cache-control"),
        "public, max-age=31536000, immutable"
    );

    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/posts/served"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 301);
    assert_eq!(header(&redirect, "location"), "/posts/served/");

    for (path, content_type) in [
        ("/feed.xml", "application/atom+xml; charset=utf-8"),
        ("/sitemap.xml", "application/xml; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ] {
        let response = app.get_public(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
    }
    for escape in [
        "/../store.redb",
        "/%2e%2e/store.redb",
        "/posts/..%2f..%2fstore.redb",
        "/nothing-here",
    ] {
        let (status, body) = page(&app, escape).await;
        assert_eq!(status, 404, "{escape}");
        assert!(body.contains("Page not found"), "{escape}: {body}");
    }
    // An API client asking for nothing in particular gets the API's 404.
    let api_client = app.get_public("/nothing-here").await;
    assert_eq!(api_client.status(), 404);
    assert_eq!(
        header(&api_client, "content-type"),
        "application/problem+json"
    );
    // The API keeps its own answers beside the site.
    assert_eq!(app.get_public("/blog/posts/served").await.status(), 200);
    assert_eq!(app.get_public("/healthz").await.status(), 200);
}

#[tokio::test]
async fn the_subscribe_form_works_as_a_plain_form_post() {
    let app = spawn_app().await;
    // What the server does at start: a site before the first post.
    atrium::site::build(&app.app.reactions().site)
        .await
        .unwrap();
    let (_, home) = page(&app, "/").await;
    assert!(
        home.contains(r#"<form class="subscribe" method="post" action="/blog/subscribers">"#),
        "{home}"
    );
    assert!(home.contains(r#"name="email""#));

    let email = format!(
        "reader-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let posted = no_redirects
        .post(app.url("/blog/subscribers"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encoded(&email))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(header(&posted, "location"), "../subscribed/");
    // As a browser follows it: relative to the form's address.
    let followed = app
        .client
        .post(app.url("/blog/subscribers"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encoded(&email))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.url().path(), "/subscribed/");
    assert!(followed.text().await.unwrap().contains("Check your inbox"));
    app.drain_reactions().await;
    assert_eq!(
        crate::subscribers::mail_to(&app, &email).await.len(),
        1,
        "one welcome"
    );

    let bad = no_redirects
        .post(app.url("/blog/subscribers"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encoded("not an address"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

/// `email=...` as a browser sends the form.
fn form_encoded(email: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .finish()
}

/// On Lambda two instances can build at once, and the one that read the
/// older view of the posts can finish last: it reads the index again after
/// writing and builds the newer view.
#[tokio::test]
async fn a_build_from_an_old_view_ends_with_the_latest_site() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let post = json!({"title": "Late news", "body": "Words.", "status": "published"});
    app.new_post(&ann, post).await;
    app.drain_reactions().await;
    assert_eq!(page(&app, "/posts/late-news/").await.0, 200);

    // A build that read the index before the post was published.
    let site = &app.app.reactions().site;
    let stale = atrium::site::build_from(site, vec![]).await.unwrap();
    assert!(stale.deleted >= 1, "it wrote its old view first: {stale:?}");
    assert_eq!(
        page(&app, "/posts/late-news/").await.0,
        200,
        "and then the latest"
    );
    assert!(page(&app, "/").await.1.contains("Late news"));
}
