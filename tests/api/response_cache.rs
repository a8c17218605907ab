//! The response cache, seen from outside: an answer is sent again from kept
//! bytes (the `/metrics` counters tell), never to another caller, never
//! after a write through this instance changed what it shows, and with the
//! same `ETag`, 304 and gzip behaviour as a rendered one.

use futures::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// GETs `path` twice and checks the second answer came from kept bytes and
/// matches the first; returns the body.
async fn read_kept(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let send = || app.request(Method::GET, path, token).send();
    let first: Value = send().await.unwrap().json().await.unwrap();
    let hits = app.metric("atrium_response_cache_hits_total").await;
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(
        app.metric("atrium_response_cache_hits_total").await,
        hits + 1,
        "GET {path} again was not sent from the cache"
    );
    assert_eq!(first, second, "GET {path}");
    second
}

fn titles(list: &Value) -> Vec<&str> {
    let items = list["items"].as_array().unwrap();
    items.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn one_users_kept_answer_never_reaches_another() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let id = app.new_todo_id(&alice, "alice's secret").await;
    app.new_todo_id(&bob, "bob's").await;

    assert_eq!(
        titles(&read_kept(&app, "/todos", Some(&alice)).await),
        ["alice's secret"]
    );
    read_kept(&app, &format!("/todos/{id}"), Some(&alice)).await;

    // Same paths, another caller: their own answers, or 404.
    let theirs: Value = app.list_todos(&bob, "").await.json().await.unwrap();
    assert_eq!(titles(&theirs), ["bob's"]);
    assert_problem(app.get_todo(&bob, &id).await, 404).await;
    assert_problem(app.get_public(&format!("/todos/{id}")).await, 401).await;
    assert_problem(app.get_public("/todos").await, 401).await;
}

#[tokio::test]
async fn every_kind_of_todo_write_retires_the_answers_it_changes() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let milk = app.new_todo_id(&alice, "milk").await;
    let item = format!("/todos/{milk}");
    read_kept(&app, "/todos", Some(&alice)).await;
    read_kept(&app, &item, Some(&alice)).await;

    // A create: the list shows it; the other todo's answer stays kept.
    let bread = app.new_todo_id(&alice, "bread").await;
    let list: Value = app.list_todos(&alice, "").await.json().await.unwrap();
    assert_eq!(titles(&list), ["milk", "bread"]);
    let hits = app.metric("atrium_response_cache_hits_total").await;
    app.get_todo(&alice, &milk).await;
    assert_eq!(
        app.metric("atrium_response_cache_hits_total").await,
        hits + 1
    );

    // An update: the item and the list show it.
    read_kept(&app, "/todos", Some(&alice)).await;
    let patched = app
        .patch_todo(&alice, &milk, json!({"title": "oat milk"}), None)
        .await;
    assert_eq!(patched.status(), 200);
    let shown: Value = app.get_todo(&alice, &milk).await.json().await.unwrap();
    assert_eq!(shown["title"], "oat milk");
    let list = read_kept(&app, "/todos", Some(&alice)).await;
    assert_eq!(titles(&list), ["oat milk", "bread"]);
    read_kept(&app, "/todos?completed=false", Some(&alice)).await;

    // An update that moves it between filtered lists.
    let done = app
        .patch_todo(&alice, &bread, json!({"completed": true}), None)
        .await;
    assert_eq!(done.status(), 200);
    let open: Value = app
        .list_todos(&alice, "?completed=false")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&open), ["oat milk"]);

    // A delete: the item is gone and the list no longer shows it.
    read_kept(&app, &item, Some(&alice)).await;
    assert_eq!(app.delete_todo(&alice, &milk).await.status(), 204);
    assert_problem(app.get_todo(&alice, &milk).await, 404).await;
    let list: Value = app.list_todos(&alice, "").await.json().await.unwrap();
    assert_eq!(titles(&list), ["bread"]);
}

#[tokio::test]
async fn every_kind_of_post_write_retires_the_public_answers() {
    let app = spawn_app().await;
    let ann = app.token_in("ann", &["authors"]).await;
    let (_, tag) = app
        .new_post(
            &ann,
            json!({"title": "Hello", "body": "v1", "status": "published"}),
        )
        .await;
    assert_eq!(
        read_kept(&app, "/blog/posts/hello", None).await["body"],
        "v1"
    );
    assert_eq!(
        titles(&read_kept(&app, "/blog/posts", None).await),
        ["Hello"]
    );

    let edit = json!({"title": "Hello again"});
    let edited = app
        .edit_post(Method::PATCH, &ann, "hello", edit, Some(&tag))
        .await;
    assert_eq!(edited.status(), 200);
    let tag = edited.headers()["etag"].to_str().unwrap().to_string();
    let post = read_kept(&app, "/blog/posts/hello", None).await;
    assert_eq!(post["title"], "Hello again");
    assert_eq!(
        titles(&read_kept(&app, "/blog/posts", None).await),
        ["Hello again"]
    );

    let draft = json!({"status": "draft"});
    let unpublished = app
        .edit_post(Method::PATCH, &ann, "hello", draft, Some(&tag))
        .await;
    assert_eq!(unpublished.status(), 200);
    assert_problem(app.get_public("/blog/posts/hello").await, 404).await;
    let list: Value = app.get_public("/blog/posts").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    // The author still sees the draft: keyed by caller, not shared.
    let own: Value = app
        .get("/blog/posts/hello", &ann)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["status"], "draft");

    assert_eq!(app.delete_post(&ann, "hello").await.status(), 204);
    assert_problem(app.get("/blog/posts/hello", &ann).await, 404).await;
}

#[tokio::test]
async fn kept_answers_revalidate_with_their_etag() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "milk").await;
    let path = format!("/todos/{id}");
    read_kept(&app, &path, Some(&alice)).await;
    let revalidate = |tag: String| {
        app.request(Method::GET, &path, Some(&alice))
            .header("if-none-match", tag)
            .send()
    };
    let tag = app.get_todo(&alice, &id).await.headers()["etag"].clone();
    let tag = tag.to_str().unwrap().to_string();

    let unchanged = revalidate(tag.clone()).await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"], tag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());
    let weak = revalidate(format!("W/{tag}")).await.unwrap();
    assert_eq!(weak.status(), 304);
    // A first GET that revalidates: rendered, kept in full, still a 304.
    let cold = app
        .request(Method::GET, "/todos", Some(&alice))
        .header("if-none-match", "\"x\"");
    assert_eq!(cold.send().await.unwrap().status(), 200);

    app.patch_todo(&alice, &id, json!({"title": "oat milk"}), None)
        .await;
    let changed = revalidate(tag.clone()).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], tag.as_str());
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["title"], "oat milk");

    // Public posts keep their Cache-Control on a 304.
    let ann = app.token_in("ann", &["authors"]).await;
    let (_, post_tag) = app
        .new_post(
            &ann,
            json!({"title": "Hi", "body": "x", "status": "published"}),
        )
        .await;
    read_kept(&app, "/blog/posts/hi", None).await;
    let not_modified = app.revalidate("/blog/posts/hi", &post_tag).await;
    assert_eq!(not_modified.status(), 304);
    assert!(
        not_modified.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
}

/// The kept bytes are identity; each answer is compressed (or not) for the
/// client that asked, whichever kind of client came first.
#[tokio::test]
async fn gzip_follows_each_request_not_the_kept_answer() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for n in 0..20 {
        app.new_todo_id(&alice, &format!("todo number {n} with some words"))
            .await;
    }
    let get = |gzip: bool| {
        let request = app.request(Method::GET, "/todos", Some(&alice));
        match gzip {
            true => request.header("accept-encoding", "gzip").send(),
            false => request.send(),
        }
    };
    let varies = |r: &Response| {
        r.headers()
            .get_all("vary")
            .iter()
            .any(|v| v == "accept-encoding")
    };
    for order in [[true, false], [false, true]] {
        app.new_todo_id(&alice, "one more, so the list is rendered again")
            .await;
        for gzip in order {
            let answer = get(gzip).await.unwrap();
            assert_eq!(answer.status(), 200);
            assert!(varies(&answer), "gzip {gzip}: no Vary");
            let encoding = answer.headers().get("content-encoding").cloned();
            let body = answer.bytes().await.unwrap();
            if gzip {
                assert_eq!(encoding.unwrap(), "gzip");
                assert!(body.starts_with(&[0x1f, 0x8b]));
            } else {
                assert!(encoding.is_none());
                let list: Value = serde_json::from_slice(&body).unwrap();
                assert!(titles(&list).len() >= 21);
            }
        }
    }
    assert!(app.metric("atrium_response_cache_hits_total").await >= 2);
}

/// A list read after your own write is made from the list in memory, so
/// 100 clients asking for it at once cost no backend read. After a write
/// whose outcome the cache cannot apply (here a create refused because the
/// id exists), the list must be read again, and the 100 cost one read.
#[tokio::test]
async fn a_burst_after_a_write_makes_at_most_one_backend_read() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let milk = app.new_todo_id(&alice, "milk").await;
    read_kept(&app, "/todos", Some(&alice)).await;
    app.new_todo_id(&alice, "bread").await;
    let burst = || async {
        let reads = app.metric("atrium_cache_misses_total").await;
        let answers = join_all((0..100).map(|_| app.list_todos(&alice, ""))).await;
        for answer in answers {
            assert_eq!(answer.status(), 200);
            let list: Value = answer.json().await.unwrap();
            assert_eq!(titles(&list), ["milk", "bread"]);
        }
        app.metric("atrium_cache_misses_total").await - reads
    };
    assert_eq!(burst().await, 0, "after a create");

    let refused = app
        .request(Method::PUT, &format!("/todos/{milk}"), Some(&alice))
        .header("if-none-match", "*")
        .json(&json!({ "title": "milk again" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 412);
    assert_eq!(burst().await, 1, "after a refused write");
}
