//! Blog posts over HTTP: authors write, everyone reads what is published,
//! and public reads carry what a CDN needs.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

const PUBLIC_CACHE: &str = "public, max-age=60, s-maxage=300, stale-while-revalidate=600";

async fn write(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Response {
    app.request(method, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Creates a post that must succeed; returns its JSON and ETag.
async fn new_post(app: &TestApp, author: &str, body: Value) -> (Value, String) {
    let response = write(app, Method::POST, "/blog/posts", author, body).await;
    assert_eq!(response.status(), 201);
    let tag = response.headers()["etag"].to_str().unwrap().to_string();
    (response.json().await.unwrap(), tag)
}

/// A conditional GET, as a browser or CDN revalidates what it holds.
async fn revalidate(app: &TestApp, path: &str, etag: &str) -> Response {
    app.client
        .get(app.url(path))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response.headers()[name].to_str().unwrap()
}

#[tokio::test]
async fn drafts_are_for_authors_and_published_posts_for_everyone() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    let reader = app.token("rob").await;

    let post = json!({"title": "Hello, World!", "body": "First *post*."});
    assert_problem(
        app.request(Method::POST, "/blog/posts", None)
            .json(&post)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_problem(
        write(&app, Method::POST, "/blog/posts", &reader, post.clone()).await,
        403,
    )
    .await;
    let (draft, tag) = new_post(&app, &author, post).await;
    assert_eq!(draft["slug"], "hello-world");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["body_html"], "<p>First <em>post</em>.</p>\n");

    assert_problem(app.get_public("/blog/posts/hello-world").await, 404).await;
    assert_problem(app.get("/blog/posts/hello-world", &reader).await, 404).await;
    let seen_by_author = app.get("/blog/posts/hello-world", &author).await;
    assert_eq!(seen_by_author.status(), 200);
    assert_eq!(
        header(&seen_by_author, "cache-control"),
        "private, no-store"
    );
    let listed: Value = app.get_public("/blog/posts").await.json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "drafts are not listed");

    let published = app
        .request(Method::PATCH, "/blog/posts/hello-world", Some(&author))
        .header("if-match", &tag)
        .json(&json!({"status": "published"}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let public = app.get_public("/blog/posts/hello-world").await;
    assert_eq!(public.status(), 200);
    assert_eq!(header(&public, "cache-control"), PUBLIC_CACHE);
    let public_tag = header(&public, "etag").to_string();
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["status"], "published");
    assert!(body["published_at"].is_string());

    let again = revalidate(&app, "/blog/posts/hello-world", &public_tag).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), public_tag);
    assert_eq!(header(&again, "cache-control"), PUBLIC_CACHE);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_public_list_is_newest_first_paginated_and_revalidatable() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    for n in 1..=5 {
        let post = json!({"title": format!("Post {n}"), "body": "b", "status": "published"});
        new_post(&app, &author, post).await;
    }
    new_post(&app, &author, json!({"title": "Secret draft", "body": "b"})).await;

    let first = app.get_public("/blog/posts?limit=3").await;
    assert_eq!(header(&first, "cache-control"), PUBLIC_CACHE);
    let tag = header(&first, "etag").to_string();
    let first: Value = first.json().await.unwrap();
    let slugs = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(slugs(&first), ["post-5", "post-4", "post-3"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get_public(&format!("/blog/posts?limit=3&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slugs(&second), ["post-2", "post-1"]);
    assert!(second.get("next_cursor").is_none());

    let unchanged = revalidate(&app, "/blog/posts?limit=3", &tag).await;
    assert_eq!(unchanged.status(), 304);

    // A new post changes the first page, so its ETag no longer matches.
    new_post(
        &app,
        &author,
        json!({"title": "Post 6", "body": "b", "status": "published"}),
    )
    .await;
    let changed = revalidate(&app, "/blog/posts?limit=3", &tag).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(slugs(&changed.json().await.unwrap())[0], "post-6");

    for bad in ["?limit=0", "?limit=51", "?limit=x", "?sort=old"] {
        let response = app.get_public(&format!("/blog/posts{bad}")).await;
        assert!(matches!(response.status().as_u16(), 400 | 422), "{bad}");
    }
    assert_problem(app.get_public("/blog/posts?cursor=forged").await, 400).await;
}

#[tokio::test]
async fn slugs_are_unique_and_checked() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    new_post(&app, &author, json!({"title": "Same", "body": "b"})).await;
    let clash = write(
        &app,
        Method::POST,
        "/blog/posts",
        &author,
        json!({"title": "Same", "body": "b"}),
    )
    .await;
    assert_problem(clash, 409).await;
    let (custom, _) = new_post(
        &app,
        &author,
        json!({"title": "Same", "body": "b", "slug": "same-2"}),
    )
    .await;
    assert_eq!(custom["slug"], "same-2");

    let bad = json!({"title": " ", "body": "b", "slug": "Not A Slug", "cover_upload_id": "x"});
    let problem = assert_problem(
        write(&app, Method::POST, "/blog/posts", &author, bad).await,
        422,
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["cover_upload_id", "slug", "title"]);
    for path in [
        "/blog/posts/Not-Valid",
        "/blog/posts/..%2Fx",
        "/blog/posts/nope",
    ] {
        assert_problem(app.get_public(path).await, 404).await;
    }
}

#[tokio::test]
async fn edits_need_the_current_etag_and_show_at_once() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    let (_, tag) = new_post(
        &app,
        &author,
        json!({"title": "Draft one", "body": "v1", "status": "published"}),
    )
    .await;
    // Read it publicly, so the cache holds it.
    let before: Value = app
        .get_public("/blog/posts/draft-one")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["body"], "v1");

    let replace = json!({"title": "Draft one", "body": "v2", "status": "published"});
    let replaced = app
        .request(Method::PUT, "/blog/posts/draft-one", Some(&author))
        .header("if-match", &tag)
        .json(&replace)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let after: Value = app
        .get_public("/blog/posts/draft-one")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["body"], "v2", "this instance shows the edit at once");
    assert_eq!(after["published_at"], before["published_at"]);

    let stale = app
        .request(Method::PATCH, "/blog/posts/draft-one", Some(&author))
        .header("if-match", &tag)
        .json(&json!({"title": "lost update"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;
    let reader = app.token("rob").await;
    let not_author = write(
        &app,
        Method::PATCH,
        "/blog/posts/draft-one",
        &reader,
        json!({"title": "x"}),
    )
    .await;
    assert_problem(not_author, 403).await;

    let deleted = app
        .request(Method::DELETE, "/blog/posts/draft-one", Some(&author))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get_public("/blog/posts/draft-one").await, 404).await;
    let listed: Value = app.get_public("/blog/posts").await.json().await.unwrap();
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn hostile_markdown_is_stored_as_written_and_served_harmless() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    let hostile =
        "Hi <script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1))";
    let (post, _) = new_post(&app, &author, json!({"title": "XSS", "body": hostile})).await;
    assert_eq!(post["body"], hostile, "the Markdown is kept as written");
    let html = post["body_html"].as_str().unwrap();
    for bad in ["<script", "onerror", "javascript:"] {
        assert!(!html.contains(bad), "{html}");
    }
}
