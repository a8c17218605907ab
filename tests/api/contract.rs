//! The contract under attack: what a hostile or careless client meets.
//! Each test here failed on the code before the contract issue.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use crate::uploads::png;

/// Sends `head` (and nothing more) on a raw connection; returns the first
/// answer's bytes, read until the server closes or `wait` passes.
async fn raw_exchange(app: &TestApp, head: &str, wait: Duration) -> String {
    let address = app.url("").trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 8192];
    let read = tokio::time::timeout(wait, stream.read(&mut answer)).await;
    let n = read.expect("an answer in time").unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn the_document_puts_every_parameter_in_its_place_and_names_schemas_once() {
    let app = spawn_app().await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    for path in ["/todos", "/uploads", "/blog/posts"] {
        for param in doc["paths"][path]["get"]["parameters"].as_array().unwrap() {
            assert_eq!(param["in"], "query", "{path}: {param}");
            assert_eq!(param["required"], false, "{path}: {param}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["UploadStatus"]["enum"],
        json!(["pending", "ready", "failed"])
    );
    assert_eq!(schemas["PostStatus"]["enum"], json!(["draft", "published"]));
    let upload = &schemas["CreateUpload"]["properties"];
    assert!(
        upload["content_type"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("image/png"))
    );
    assert_eq!(upload["size"]["maximum"], 25 * 1024 * 1024);
    assert_eq!(schemas["UpdateTodo"]["minProperties"], 1);
    assert_eq!(
        schemas["CreateTodo"]["properties"]["title"]["maxLength"],
        200
    );
    // Every route lists 401 (a bad token is refused anywhere) and every
    // body 415.
    let post = &doc["paths"]["/blog/posts"]["post"]["responses"];
    for status in ["401", "408", "413", "415", "422", "503"] {
        assert!(post[status].is_object(), "POST /blog/posts lacks {status}");
    }
    assert!(doc["paths"]["/blog/posts"]["get"]["responses"]["401"].is_object());
}

#[tokio::test]
async fn undecodable_paths_and_queries_answer_problem_json() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for path in ["/todos/%FF", "/uploads/%FF%FE", "/blog/posts/%C0"] {
        let response = app
            .request(Method::GET, path, Some(&alice))
            .send()
            .await
            .unwrap();
        assert_problem(response, 404).await;
    }
    if app.aws.is_none() {
        // The local store's URLs (on S3 there is no /files).
        let undecodable = app.get_public("/files/users/%FF?expires=1").await;
        assert_problem(undecodable, 404).await;
        let bad_expiry = app.get_public("/files/users/a/b.txt?expires=soon&signature=x");
        assert_problem(bad_expiry.await, 422).await;
    }
}

#[tokio::test]
async fn authors_own_their_posts_and_editors_may_change_any() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let bob = app.token_in("bob", &["authors"]).await;
    let eve = app.token_in("eve", &["editors"]).await;
    app.new_post(&ann, json!({"title": "Ann's draft", "body": "x"}))
        .await;
    let published = json!({"title": "Ann's post", "body": "x", "status": "published"});
    app.new_post(&ann, published).await;
    let change = json!({"title": "Bob was here"});

    // Another author's draft does not exist for Bob; a published post is
    // public, so changing it is plainly forbidden.
    assert_problem(app.get("/blog/posts/ann-s-draft", &bob).await, 404).await;
    let edit = app
        .edit_post(Method::PATCH, &bob, "ann-s-draft", change.clone(), None)
        .await;
    assert_problem(edit, 404).await;
    let edit = app
        .edit_post(Method::PATCH, &bob, "ann-s-post", change.clone(), None)
        .await;
    assert_problem(edit, 403).await;
    assert_problem(app.delete_post(&bob, "ann-s-post").await, 403).await;

    // The author and an editor may.
    assert_eq!(app.get("/blog/posts/ann-s-draft", &ann).await.status(), 200);
    assert_eq!(app.get("/blog/posts/ann-s-draft", &eve).await.status(), 200);
    let edit = app
        .edit_post(Method::PATCH, &eve, "ann-s-post", change.clone(), None)
        .await;
    assert_eq!(edit.status(), 200);
    assert_eq!(app.delete_post(&ann, "ann-s-draft").await.status(), 204);
}

#[tokio::test]
async fn deep_markdown_is_refused_and_raw_html_shows_as_text() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    // 50 KB of nested quotes took 11 s to publish, on an async worker.
    let started = Instant::now();
    let deep = json!({"title": "Deep", "body": ">".repeat(50_000)});
    let problem = assert_problem(app.create_post(Some(&ann), deep).await, 422).await;
    assert_eq!(error_fields(&problem), ["body"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let (post, _) = app
        .new_post(
            &ann,
            json!({"title": "Raw", "body": "<div><b>hi</b></div>"}),
        )
        .await;
    assert_eq!(
        post["body_html"],
        "&lt;div&gt;&lt;b&gt;hi&lt;/b&gt;&lt;/div&gt;"
    );
}

#[tokio::test]
async fn a_post_of_the_documented_length_fits_in_any_script() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    // 50,000 four-byte characters: 200 KB of UTF-8, 600 KB as JSON escapes.
    let body = "😀".repeat(50_000);
    let response = app
        .create_post(Some(&ann), json!({"title": "Emoji", "body": body}))
        .await;
    assert_eq!(response.status(), 201);
    let over = json!({"title": "Emoji", "body": "😀".repeat(50_001)});
    assert_problem(app.create_post(Some(&ann), over).await, 422).await;
}

#[tokio::test]
async fn patch_bodies_say_what_changes_and_null_is_not_absent() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "Milk").await;
    let problem = assert_problem(
        app.patch_todo(&alice, &id, json!({"title": null}), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["title"]);
    let blank = app
        .patch_todo(&alice, &id, json!({"title": " \u{3000} "}), None)
        .await;
    assert_problem(blank, 422).await;
    // A size written as 3.0 is still the whole number JSON Schema allows.
    let request = json!({"filename": "a.txt", "content_type": "text/plain", "size": 3.0});
    assert_eq!(app.create_upload(Some(&alice), request).await.status(), 201);
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_before_the_body_is_read() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let head = format!(
        "POST /todos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: application/json\r\nContent-Length: 10000000\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    let answer = raw_exchange(&app, &head, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408() {
    let app = TestApp::builder()
        .with_env("APP_BODY_TIMEOUT", "1s")
        .spawn()
        .await;
    let alice = app.token("alice").await;
    let head = format!(
        "POST /todos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\""
    );
    let started = Instant::now();
    let answer = raw_exchange(&app, &head, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_upload_url_keeps_its_refusal_and_needs_a_length() {
    let app = spawn_app().await;
    if app.aws.is_some() {
        return; // S3 answers its own PUTs; this is the local store's contract
    }
    let alice = app.token("alice").await;
    let not_png = b"GIF89a, or so it says".to_vec();
    let request = json!({"filename": "x.png", "content_type": "image/png", "size": not_png.len()});
    let ticket = app.upload_ticket(&alice, request).await;
    assert_problem(app.send_upload(&ticket, not_png.clone()).await, 415).await;
    // Sent again, the same URL gets the same refusal, never 200 for bytes
    // it would throw away.
    assert_problem(app.send_upload(&ticket, not_png).await, 415).await;

    let url = ticket["url"].as_str().unwrap();
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(vec![1u8, 2, 3])]);
    let chunked = app
        .client
        .put(url)
        .header("content-type", "image/png")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(chunked, 411).await;
}

#[tokio::test]
async fn a_small_image_gets_one_thumbnail_at_its_own_size() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bytes = png(120, 120);
    let request = json!({"filename": "s.png", "content_type": "image/png", "size": bytes.len()});
    let ticket = app.upload_ticket(&alice, request).await;
    assert!(app.send_upload(&ticket, bytes).await.status().is_success());
    crate::uploads::deliver_s3_event(&app, &ticket).await;
    let upload = app
        .settled_upload(&alice, ticket["id"].as_str().unwrap())
        .await;
    let thumbnails = upload["thumbnails"].as_array().unwrap();
    assert_eq!(thumbnails.len(), 1, "{upload}");
    assert_eq!(
        (
            thumbnails[0]["width"].as_u64(),
            thumbnails[0]["height"].as_u64()
        ),
        (Some(120), Some(120))
    );
}

/// Opens `count` connections that send half a request line and then
/// nothing, as a slowloris client does.
async fn slow_clients(app: &TestApp, count: usize) -> Vec<tokio::net::TcpStream> {
    let address = app.url("").trim_start_matches("http://").to_string();
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        streams.push(stream);
    }
    streams
}

#[tokio::test]
async fn two_hundred_slow_clients_do_not_stall_the_service_and_are_cut_off() {
    let app = TestApp::builder()
        .with_env("APP_BODY_TIMEOUT", "4s")
        .spawn()
        .await;
    let mut slow = slow_clients(&app, 200).await;
    // Everyone else is served meanwhile (a stall would last the deadline).
    for _ in 0..20 {
        let started = Instant::now();
        let health = app.get_public("/healthz").await;
        assert_eq!(health.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    // And the slow ones are closed once their headers are overdue.
    let mut buffer = [0u8; 256];
    for stream in &mut slow {
        let read = tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buffer)).await;
        assert!(
            read.is_ok(),
            "a connection without headers stayed open past its deadline"
        );
    }
}

#[tokio::test]
async fn connections_over_the_cap_get_503_problem_json() {
    let app = TestApp::builder()
        .with_env("APP_MAX_CONNECTIONS", "20")
        .spawn()
        .await;
    let _held = slow_clients(&app, 20).await;
    let answer = raw_exchange(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("application/problem+json") && answer.contains("retry-after: 1"),
        "{answer}"
    );
    drop(_held);
    // Once they go, the service takes connections again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.get_public("/healthz").await.status(), 200);
}
