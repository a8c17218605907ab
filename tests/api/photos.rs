//! Photos in posts: a cover and `![alt](upload:ID)` images from the
//! author's own uploads, published on the site as public, resized copies
//! (WebP and JPEG) and taken down with the post. Runs on the embedded
//! default and, in the moto pass, with the originals in S3.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use crate::uploads::{png, upload};

/// A ready image upload of `width`×`height` by `token`'s user; its id.
async fn photo(app: &TestApp, token: &str, width: u32, height: u32) -> String {
    let done = upload(app, token, "photo.png", "image/png", png(width, height)).await;
    assert_eq!(done["status"], "ready", "{done}");
    done["id"].as_str().unwrap().to_string()
}

/// `path` with no credentials at all, as a reader's browser asks.
async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// The decoded size of the image at `path`, checking its type and caching.
async fn public_image(app: &TestApp, path: &str, content_type: &str) -> (u32, u32) {
    let response = fetch(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(response.headers()["content-type"], content_type);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = response.bytes().await.unwrap();
    let image = image::load_from_memory(&bytes).unwrap();
    (image.width(), image.height())
}

#[tokio::test]
async fn a_posts_photos_are_published_as_public_copies_and_leave_with_it() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let cover = photo(&app, &ann, 2000, 1000).await;
    let small = photo(&app, &ann, 300, 200).await;
    let body = format!("Look:\n\n![A *wide* view](upload:{small})\n\nThat was it.");
    let post = json!({"title": "Pictures", "body": body, "status": "published",
        "cover_upload_id": cover});
    let (created, tag) = app.new_post(&ann, post).await;
    assert!(created["body_html"].as_str().unwrap().contains("<picture>"));
    app.drain_reactions().await;

    let page = fetch(&app, "/posts/pictures/").await.text().await.unwrap();
    // The cover: three widths in two formats, sized, fetched first.
    let webp = format!(
        "/media/{cover}/480.webp 480w, /media/{cover}/960.webp 960w, /media/{cover}/1440.webp 1440w"
    );
    assert!(page.contains(&webp), "{page}");
    assert!(page.contains(&format!(r#"src="/media/{cover}/1440.jpg""#)));
    assert!(
        page.contains(r#"width="1440" height="720" alt="" loading="eager""#),
        "{page}"
    );
    // The image in the text: its own width only (never enlarged), lazy.
    assert!(
        page.contains(&format!("/media/{small}/300.webp 300w\"")),
        "{page}"
    );
    assert!(page.contains(r#"width="300" height="200" alt="A wide view" loading="lazy""#));
    let og = format!(
        r#"<meta property="og:image" content="{}/media/{cover}/1440.jpg">"#,
        app.config.public_url
    );
    assert!(page.contains(&og), "{page}");
    for private in ["users/", "upload:", "X-Amz", "signature", "photo.png"] {
        assert!(!page.contains(private), "{private} on a public page");
    }

    // Every copy is there for anyone, at the size the page says.
    for (width, height) in [(480, 240), (960, 480), (1440, 720)] {
        let webp = format!("/media/{cover}/{width}.webp");
        assert_eq!(
            public_image(&app, &webp, "image/webp").await,
            (width, height)
        );
        let jpeg = format!("/media/{cover}/{width}.jpg");
        assert_eq!(
            public_image(&app, &jpeg, "image/jpeg").await,
            (width, height)
        );
    }
    assert_eq!(
        public_image(&app, &format!("/media/{small}/300.webp"), "image/webp").await,
        (300, 200)
    );

    // A rebuild makes nothing again.
    let again = atrium::site::build(&app.app.reactions().site)
        .await
        .unwrap();
    assert_eq!((again.written, again.deleted), (0, 0), "{again:?}");

    // Taking the photo out of the text takes its copies down; unpublishing
    // takes the rest.
    let edit = json!({"body": "No pictures now."});
    let edited = app
        .edit_post(Method::PATCH, &ann, "pictures", edit, Some(&tag))
        .await;
    assert_eq!(edited.status(), 200);
    let tag = edited.headers()["etag"].to_str().unwrap().to_string();
    app.drain_reactions().await;
    assert_eq!(
        fetch(&app, &format!("/media/{small}/300.webp"))
            .await
            .status(),
        404
    );
    assert_eq!(
        fetch(&app, &format!("/media/{cover}/480.webp"))
            .await
            .status(),
        200
    );
    let draft = json!({"status": "draft"});
    let unpublished = app
        .edit_post(Method::PATCH, &ann, "pictures", draft, Some(&tag))
        .await;
    assert_eq!(unpublished.status(), 200);
    app.drain_reactions().await;
    for width in [480, 960, 1440] {
        let copy = format!("/media/{cover}/{width}.jpg");
        assert_eq!(fetch(&app, &copy).await.status(), 404, "{copy}");
    }
}

/// The 422 a post naming `cover` and `body` gets, and the fields it names.
async fn refused(app: &TestApp, token: &str, cover: Option<&str>, body: &str) -> Vec<String> {
    let post = json!({"title": "Refused", "body": body, "cover_upload_id": cover});
    let problem: Value = assert_problem(app.create_post(Some(token), post).await, 422).await;
    error_fields(&problem)
}

#[tokio::test]
async fn only_the_writers_own_ready_images_can_be_shown() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let bob = app.token_in("bob", &["authors"]).await;
    let bobs = photo(&app, &bob, 64, 64).await;
    let text = upload(
        &app,
        &ann,
        "notes.txt",
        "text/plain",
        b"just words".to_vec(),
    )
    .await;
    let text = text["id"].as_str().unwrap();
    let pending = app
        .upload_ticket(
            &ann,
            json!({"filename": "later.png", "content_type": "image/png", "size": 100}),
        )
        .await;
    let pending = pending["id"].as_str().unwrap();
    let nobodys = "01J00000000000000000000000";

    assert_eq!(
        refused(&app, &ann, Some(&bobs), "Hi").await,
        ["cover_upload_id"]
    );
    assert_eq!(
        refused(&app, &ann, Some(nobodys), "Hi").await,
        ["cover_upload_id"]
    );
    assert_eq!(
        refused(&app, &ann, None, &format!("![x](upload:{bobs})")).await,
        ["body"]
    );
    assert_eq!(
        refused(&app, &ann, None, &format!("![x](upload:{text})")).await,
        ["body"]
    );
    assert_eq!(
        refused(&app, &ann, None, &format!("![x](upload:{pending})")).await,
        ["body"]
    );
    assert_eq!(
        refused(&app, &ann, None, "![x](upload:../../etc/passwd)").await,
        ["body"]
    );
    let many: String = (0..21)
        .map(|n| format!("![x](upload:01J0000000000000000000{n:04}) "))
        .collect();
    let post = json!({"title": "Many", "body": many});
    let problem = assert_problem(app.create_post(Some(&ann), post).await, 422).await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("more than 20"),
        "{problem}"
    );
    // Another user's upload reads exactly like a missing one.
    let post = |id: &str| json!({"title": "t", "body": "b", "cover_upload_id": id});
    let foreign = app
        .create_post(Some(&ann), post(&bobs))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let missing = app
        .create_post(Some(&ann), post(nobodys))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let reason = |p: &Value, id: &str| {
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace(id, "ID")
    };
    assert_eq!(reason(&foreign, &bobs), reason(&missing, nobodys));

    // An editor keeps the author's photo when changing something else.
    let anns = photo(&app, &ann, 64, 64).await;
    let post =
        json!({"title": "Kept", "body": format!("![a](upload:{anns})"), "status": "published"});
    app.new_post(&ann, post).await;
    let eve = app.token_in("eve", &["authors", "editors"]).await;
    let edit = json!({"title": "Kept, edited"});
    let edited = app.edit_post(Method::PATCH, &eve, "kept", edit, None).await;
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert!(
        edited["body_html"]
            .as_str()
            .unwrap()
            .contains(&format!("/media/{anns}/64.webp"))
    );
}
