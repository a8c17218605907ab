//! `GET /me/export` and `DELETE /me`: everything of the caller, nothing of
//! anyone else's, and an erasure that can be repeated.

use std::collections::BTreeSet;

use flate2::read::GzDecoder;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};
use crate::uploads::{download, png, upload};
use atrium::store::{Query, Read};

/// What one user put in the service, to find again in their export.
struct Account {
    token: String,
    sub: String,
    todos: BTreeSet<String>,
    upload: Value,
    posts: BTreeSet<String>,
    sync_token: String,
}

/// A todo of every kind of write (single, idempotent, batched from a
/// client, deleted), a thumbnailed photo, a draft and a published post.
async fn fill(app: &TestApp, name: &str) -> Account {
    let token = app.token_in(name, &["authors"]).await;
    let me: Value = app.get("/me", &token).await.json().await.unwrap();
    let mut todos = BTreeSet::new();
    todos.insert(app.new_todo_id(&token, &format!("{name}'s first")).await);
    let keyed = app
        .create_todo_once(&token, "key-1", json!({ "title": "sent twice" }))
        .await;
    todos.insert(
        keyed.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .into(),
    );
    let creates: Vec<Value> = (0..3)
        .map(|n| json!({ "op": "create", "todo": { "title": format!("queued {n}") } }))
        .collect();
    let batch = json!({ "client_id": "phone", "mutation_id": 1, "operations": creates });
    let answer: Value = app.batch(&token, batch).await.json().await.unwrap();
    for result in answer["results"].as_array().unwrap() {
        todos.insert(result["todo"]["id"].as_str().unwrap().into());
    }
    let doomed = app.new_todo_id(&token, "deleted").await;
    assert_eq!(app.delete_todo(&token, &doomed).await.status(), 204);
    let sync_token = app.sync_step(&token, None, "").await.next;

    let photo = upload(app, &token, "cat.png", "image/png", png(600, 400)).await;
    assert_eq!(photo["status"], "ready", "{photo}");
    let mut posts = BTreeSet::new();
    for (slug, status) in [
        (format!("{name}-draft"), "draft"),
        (format!("{name}-news"), "published"),
    ] {
        let post = json!({ "title": slug, "body": "Hello", "slug": slug, "status": status });
        app.new_post(&token, post).await;
        posts.insert(slug);
    }
    Account {
        token,
        sub: me["sub"].as_str().unwrap().into(),
        todos,
        upload: photo,
        posts,
        sync_token,
    }
}

async fn export(app: &TestApp, token: &str) -> Value {
    let response = app.get("/me/export", token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    response.json().await.unwrap()
}

fn ids(list: &Value, field: &str) -> BTreeSet<String> {
    let entries = list.as_array().unwrap();
    entries
        .iter()
        .map(|e| e[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_export_holds_everything_of_the_caller_and_nothing_else() {
    let app = spawn_app().await;
    let alice = fill(&app, "alice").await;
    let bob = fill(&app, "bob").await;

    let document = export(&app, &alice.token).await;
    assert_eq!(document["user"]["sub"], alice.sub.as_str());
    assert!(document["exported_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ids(&document["todos"], "id"), alice.todos);
    assert_eq!(ids(&document["posts"], "slug"), alice.posts);
    let uploads = document["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["id"], alice.upload["id"]);
    // The URLs are fresh and work.
    let original = download(&app, &alice.upload["download"]).await;
    assert_eq!(download(&app, &uploads[0]["download"]).await, original);
    let thumbnail = &uploads[0]["thumbnails"][0]["download"];
    assert!(!download(&app, thumbnail).await.is_empty());
    let bobs = export(&app, &bob.token).await;
    assert_eq!(ids(&bobs["todos"], "id"), bob.todos);
    assert!(ids(&bobs["todos"], "id").is_disjoint(&alice.todos));
}

#[tokio::test]
async fn an_export_streams_page_after_page() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for batch in 0..9 {
        let creates: Vec<Value> = (0..25)
            .map(|n| json!({ "op": "create", "todo": { "title": format!("{batch}.{n}") } }))
            .collect();
        let answer = app.batch(&alice, json!({ "operations": creates })).await;
        assert_eq!(answer.status(), 200);
    }
    let document = export(&app, &alice).await;
    assert_eq!(ids(&document["todos"], "id").len(), 225);
    assert_eq!(document["uploads"], json!([]));
    assert_eq!(document["posts"], json!([]));

    // Compressed on the way, as a browser or phone asks for it.
    let request = app.request(Method::GET, "/me/export", Some(&alice));
    let response = request
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let gzipped = response.bytes().await.expect("the whole body");
    let unzipped: Value = serde_json::from_reader(GzDecoder::new(&gzipped[..])).unwrap();
    assert_eq!(unzipped["todos"], document["todos"]);
}

#[tokio::test]
async fn erasing_an_account_removes_all_of_it_and_nothing_of_others() {
    let app = spawn_app().await;
    let alice = fill(&app, "alice").await;
    let bob = fill(&app, "bob").await;
    let bob_before = export(&app, &bob.token).await;

    let erased = app
        .request(Method::DELETE, "/me", Some(&alice.token))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);

    // Nothing is left to read, to sync from, or to download.
    assert_eq!(app.todo_count(&alice.token).await, 0);
    let uploads: Value = app
        .get("/uploads", &alice.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(uploads["items"], json!([]));
    for slug in &alice.posts {
        let post = app.get(&format!("/blog/posts/{slug}"), &alice.token).await;
        assert_eq!(post.status(), 404, "{slug}");
    }
    let old = app.changes(&alice.token, Some(&alice.sync_token), "").await;
    assert_problem(old, 410).await;
    assert!(
        app.sync_step(&alice.token, None, "")
            .await
            .changes
            .is_empty()
    );
    // A device that missed the erasure is told to start again even once
    // the new log has counted past where its token stood.
    let creates: Vec<Value> = (0..10)
        .map(|n| json!({ "op": "create", "todo": { "title": format!("anew {n}") } }))
        .collect();
    let anew = app
        .batch(&alice.token, json!({ "operations": creates }))
        .await;
    assert_eq!(anew.status(), 200);
    let old = app.changes(&alice.token, Some(&alice.sync_token), "").await;
    assert_problem(old, 410).await;
    let erased = app
        .request(Method::DELETE, "/me", Some(&alice.token))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);
    let file = app
        .client
        .get(alice.upload["download"]["url"].as_str().unwrap());
    assert!(
        !file.send().await.unwrap().status().is_success(),
        "the file is gone"
    );
    let objects = &app.backends().objects;
    for prefix in [
        format!("users/{}/", alice.sub),
        format!("thumbs/users/{}/", alice.sub),
    ] {
        assert!(objects.list(&prefix).await.unwrap().is_empty(), "{prefix}");
    }
    // Not even what only retries would see: idempotency records, batch
    // answers, the change log and its counter.
    let partition = Query::partition(format!("USER#{}", alice.sub));
    let left = app
        .backends()
        .table
        .query(&partition, Read::Strong)
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
    let again = app
        .create_todo_once(&alice.token, "key-1", json!({ "title": "sent twice" }))
        .await;
    assert_eq!(again.status(), 201);

    // Bob's data is as it was.
    let bob_after = export(&app, &bob.token).await;
    for part in ["todos", "posts"] {
        assert_eq!(bob_after[part], bob_before[part], "{part}");
    }
    assert_eq!(
        ids(&bob_after["uploads"], "id"),
        ids(&bob_before["uploads"], "id")
    );
    let bobs_file = &bob_after["uploads"][0]["download"];
    assert!(!download(&app, bobs_file).await.is_empty());

    // Repeatable, as after a crash half-way.
    let repeated = app
        .request(Method::DELETE, "/me", Some(&alice.token))
        .send()
        .await
        .unwrap();
    assert_eq!(repeated.status(), 204);
}

#[tokio::test]
async fn export_and_erasure_need_a_signed_in_caller() {
    let app = spawn_app().await;
    let export = app
        .request(Method::GET, "/me/export", None)
        .send()
        .await
        .unwrap();
    assert_problem(export, 401).await;
    let erase = app
        .request(Method::DELETE, "/me", None)
        .send()
        .await
        .unwrap();
    assert_problem(erase, 401).await;
    let forged = app
        .request(Method::DELETE, "/me", Some("not.a.token"))
        .send()
        .await
        .unwrap();
    assert_problem(forged, 401).await;
}
