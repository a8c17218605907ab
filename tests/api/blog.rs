//! Blog posts over HTTP: authors write, everyone reads what is published,
//! and public reads carry what a CDN needs.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

const PUBLIC_CACHE: &str = "public, max-age=60, s-maxage=300, stale-while-revalidate=600";

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response.headers()[name].to_str().unwrap()
}

#[tokio::test]
async fn drafts_are_for_authors_and_published_posts_for_everyone() {
    let app = spawn_app().await;
    let author = app.token_in("ann", &["authors"]).await;
    let reader = app.token("rob").await;

    let post = json!({"title": "Hello, World!", "body": "First *post*."});
    assert_problem(app.create_post(None, post.clone()).await, 401).await;
    assert_problem(app.create_post(Some(&reader), post.clone()).await, 403).await;
    let (draft, tag) = app.new_post(&author, post).await;
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

    let publish = json!({"status": "published"});
    let published =
        (app.edit_post(Method::PATCH, &author, "hello-world", publish, Some(&tag))).await;
    assert_eq!(published.status(), 200);
    let public = app.get_public("/blog/posts/hello-world").await;
    assert_eq!(public.status(), 200);
    assert_eq!(header(&public, "cache-control"), PUBLIC_CACHE);
    let public_tag = header(&public, "etag").to_string();
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["status"], "published");
    assert!(body["published_at"].is_string());

    let again = app.revalidate("/blog/posts/hello-world", &public_tag).await;
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
        app.new_post(&author, post).await;
    }
    app.new_post(&author, json!({"title": "Secret draft", "body": "b"}))
        .await;

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

    let unchanged = app.revalidate("/blog/posts?limit=3", &tag).await;
    assert_eq!(unchanged.status(), 304);

    // A new post changes the first page, so its ETag no longer matches.
    app.new_post(
        &author,
        json!({"title": "Post 6", "body": "b", "status": "published"}),
    )
    .await;
    let changed = app.revalidate("/blog/posts?limit=3", &tag).await;
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
    app.new_post(&author, json!({"title": "Same", "body": "b"}))
        .await;
    let clash = (app.create_post(Some(&author), json!({"title": "Same", "body": "b"}))).await;
    assert_problem(clash, 409).await;
    let (custom, _) = app
        .new_post(
            &author,
            json!({"title": "Same", "body": "b", "slug": "same-2"}),
        )
        .await;
    assert_eq!(custom["slug"], "same-2");

    let bad = json!({"title": " ", "body": "b", "slug": "Not A Slug", "cover_upload_id": "x"});
    let problem = assert_problem(app.create_post(Some(&author), bad).await, 422).await;
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
    let (_, tag) = app
        .new_post(
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
    let replaced = (app.edit_post(Method::PUT, &author, "draft-one", replace, Some(&tag))).await;
    assert_eq!(replaced.status(), 200);
    let after: Value = app
        .get_public("/blog/posts/draft-one")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["body"], "v2", "this instance shows the edit at once");
    assert_eq!(after["published_at"], before["published_at"]);

    let lost = json!({"title": "lost update"});
    let stale = (app.edit_post(Method::PATCH, &author, "draft-one", lost, Some(&tag))).await;
    assert_problem(stale, 412).await;
    let reader = app.token("rob").await;
    let not_author = (app.edit_post(
        Method::PATCH,
        &reader,
        "draft-one",
        json!({"title": "x"}),
        None,
    ))
    .await;
    assert_problem(not_author, 403).await;

    let deleted = app.delete_post(&author, "draft-one").await;
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
    let (post, _) = app
        .new_post(&author, json!({"title": "XSS", "body": hostile}))
        .await;
    assert_eq!(post["body"], hostile, "the Markdown is kept as written");
    let html = post["body_html"].as_str().unwrap();
    // Raw HTML is shown as text: no tag of it, no handler, no script URL.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    for bad in ["<script", "<img", "javascript:"] {
        assert!(!html.contains(bad), "{html}");
    }
}

#[tokio::test]
async fn readers_see_the_author_by_name_never_by_account_id() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let me: Value = app.get("/me", &ann).await.json().await.unwrap();
    let sub = me["sub"].as_str().unwrap().to_string();
    let post = json!({"title": "By name", "body": "Words.", "status": "published"});
    let (created, _) = app.new_post(&ann, post).await;
    assert_eq!(created["author_name"], "ann");
    for path in ["/blog/posts/by-name", "/blog/posts"] {
        let text = app.get_public(path).await.text().await.unwrap();
        assert!(
            !text.contains(&sub),
            "{path} shows the author's sub: {text}"
        );
        assert!(text.contains(r#""author_name":"ann""#), "{path}: {text}");
    }
    // The author's own export keeps it: it is their data.
    let export = app.get("/me/export", &ann).await.text().await.unwrap();
    assert!(export.contains(&sub));
}
