//! The todos API: happy paths, validation, pagination, conditional requests,
//! idempotency and isolation between users.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn create_read_update_delete() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;

    let response = app
        .create_todo(&alice, json!({ "title": "  buy milk  ", "notes": "2 litres", "due": "2026-12-01T09:00:00+01:00" }))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(response.headers()["etag"], "\"v1\"");
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/todos/{id}"));
    assert_eq!(created["title"], "buy milk", "title is trimmed");
    assert_eq!(created["completed"], false);
    assert_eq!(created["due"], "2026-12-01T09:00:00+01:00");
    assert_eq!(created["version"], 1);

    let read = app.get_todo(&alice, id).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["cache-control"], "private, no-store");
    assert_eq!(read.json::<Value>().await.unwrap(), created);

    let patched = app
        .patch_todo(
            &alice,
            id,
            json!({ "completed": true, "due": null }),
            Some("\"v1\""),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.headers()["etag"], "\"v2\"");
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["completed"], true);
    assert_eq!(patched["due"], Value::Null, "null clears the due date");
    assert_eq!(patched["notes"], "2 litres", "absent fields are kept");
    assert_eq!(
        app.get_todo(&alice, id)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        patched,
        "read-your-writes"
    );

    assert_eq!(app.delete_todo(&alice, id).await.status(), 204);
    assert_problem(app.get_todo(&alice, id).await, 404).await;
    assert_problem(app.delete_todo(&alice, id).await, 404).await;
}

#[tokio::test]
async fn validation_names_each_bad_field() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let cases = [
        (json!({ "title": "" }), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "title": "x".repeat(201) }), "title"),
        (json!({ "title": "tab\tinside" }), "title"),
        (
            json!({ "title": "ok", "notes": "n".repeat(10_001) }),
            "notes",
        ),
        (json!({ "title": "ok", "due": "tomorrow" }), "due"),
        (json!({ "title": "ok", "completed": "yes" }), "completed"),
        (json!({ "title": 5 }), "title"),
        (json!({ "notes": "no title" }), "title"),
        (json!({ "title": "ok", "colour": "red" }), "colour"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(app.create_todo(&alice, body.clone()).await, 422).await;
        let fields = error_fields(&problem);
        assert!(
            fields.iter().any(|f| f == field),
            "{body} should blame {field}, got {fields:?}"
        );
    }
    // 200 characters is allowed, counted as characters, not bytes.
    let at_limit = app
        .create_todo(&alice, json!({ "title": "é".repeat(200) }))
        .await;
    assert_eq!(at_limit.status(), 201);
    // Nothing invalid was stored.
    assert_eq!(app.todo_count(&alice).await, 1);
}

#[tokio::test]
async fn patch_validation_and_empty_patch() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "a").await;
    let problem = assert_problem(
        app.patch_todo(&alice, &id, json!({ "title": "" }), None)
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["title"]);
    assert_problem(app.patch_todo(&alice, &id, json!({}), None).await, 422).await;
    assert_problem(
        app.patch_todo(&alice, &id, json!({ "version": 9 }), None)
            .await,
        422,
    )
    .await;
    let unchanged: Value = app.get_todo(&alice, &id).await.json().await.unwrap();
    assert_eq!(unchanged["version"], 1, "failed patches change nothing");
}

#[tokio::test]
async fn list_paginates_with_opaque_cursor_and_filters() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.new_todo_id(&alice, &format!("todo {i}")).await);
    }
    app.patch_todo(&alice, &ids[1], json!({ "completed": true }), None)
        .await;
    app.patch_todo(&alice, &ids[3], json!({ "completed": true }), None)
        .await;

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page: Value = app.list_todos(&alice, &query).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every todo once, in creation order");

    let done: Value = app
        .list_todos(&alice, "?completed=true")
        .await
        .json()
        .await
        .unwrap();
    let done: Vec<_> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(done, [json!(ids[1]), json!(ids[3])]);
    // A filtered page is full when enough items match further on.
    let open: Value = app
        .list_todos(&alice, "?completed=false&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    assert!(open["next_cursor"].is_string());
}

#[tokio::test]
async fn bad_list_parameters() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?completed=maybe", "completed"),
    ] {
        let problem = assert_problem(app.list_todos(&alice, query).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    assert_problem(app.list_todos(&alice, "?cursor=not-a-cursor").await, 400).await;
    assert_problem(app.list_todos(&alice, "?cursor=e30").await, 400).await; // "{}"
}

#[tokio::test]
async fn a_cursor_cannot_reach_another_users_partition() {
    let app = spawn_app().await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    for i in 0..3 {
        app.new_todo(&bob, &format!("bob {i}")).await;
    }
    let page: Value = app.list_todos(&bob, "?limit=1").await.json().await.unwrap();
    let bobs_cursor = page["next_cursor"].as_str().unwrap();
    assert_problem(
        app.list_todos(&alice, &format!("?cursor={bobs_cursor}"))
            .await,
        400,
    )
    .await;

    // A hand-made cursor naming bob's partition is refused the same way.
    use base64::Engine as _;
    let bob = atrium::auth::local_sub("bob").parse().unwrap();
    let key = atrium::keys::todo(&bob, atrium::ids::TodoId::new());
    let forged = json!({ "PK": key.pk, "SK": key.sk });
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    assert_problem(
        app.list_todos(&alice, &format!("?cursor={forged}")).await,
        400,
    )
    .await;
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "a").await;

    let ok = app
        .patch_todo(&alice, &id, json!({ "title": "b" }), Some("\"v1\""))
        .await;
    assert_eq!(ok.status(), 200);
    // A second writer still holding v1 is refused and changes nothing.
    assert_problem(
        app.patch_todo(&alice, &id, json!({ "title": "c" }), Some("\"v1\""))
            .await,
        412,
    )
    .await;
    let current: Value = app.get_todo(&alice, &id).await.json().await.unwrap();
    assert_eq!(current["title"], "b");

    let stale_delete = app
        .send_with(
            Method::DELETE,
            &format!("/todos/{id}"),
            &alice,
            ("if-match", "\"v1\""),
        )
        .await;
    assert_problem(stale_delete, 412).await;
    let delete = app
        .send_with(
            Method::DELETE,
            &format!("/todos/{id}"),
            &alice,
            ("if-match", "\"v2\""),
        )
        .await;
    assert_eq!(delete.status(), 204);
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "a").await;
    let path = format!("/todos/{id}");
    let cached = app
        .send_with(Method::GET, &path, &alice, ("if-none-match", "\"v1\""))
        .await;
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], "\"v1\"");
    let changed = app
        .send_with(Method::GET, &path, &alice, ("if-none-match", "\"v0\""))
        .await;
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let send = |key: &'static str, title: &'static str| {
        app.create_todo_once(&alice, key, json!({ "title": title }))
    };
    let first = send("key-1", "once").await;
    assert_eq!(first.status(), 201);
    let first_etag = first.headers()["etag"].clone();
    let first: Value = first.json().await.unwrap();
    let retry = send("key-1", "once").await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["etag"], first_etag);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);

    let reused = assert_problem(send("key-1", "different").await, 422).await;
    assert_eq!(error_fields(&reused), ["Idempotency-Key"]);

    assert_eq!(app.todo_count(&alice).await, 1, "the retry created nothing");

    // Keys are per user: bob's "key-1" is his own.
    let bob = app.token("bob").await;
    let bobs = app
        .create_todo_once(&bob, "key-1", json!({ "title": "once" }))
        .await;
    assert_eq!(bobs.status(), 201);
    assert_ne!(bobs.json::<Value>().await.unwrap()["id"], first["id"]);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_todo() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let attempts =
        (0..10).map(|_| app.create_todo_once(&alice, "same", json!({ "title": "once" })));
    let responses = futures::future::join_all(attempts).await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        ids.insert(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_eq!(ids.len(), 1, "every retry saw the same todo");
    assert_eq!(app.todo_count(&alice).await, 1);
}

#[tokio::test]
async fn malformed_idempotency_key_is_refused() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for key in ["", &"k".repeat(256), "has space"] {
        let response = app
            .create_todo_once(&alice, key, json!({ "title": "x" }))
            .await;
        assert_problem(response, 400).await;
    }
}

#[tokio::test]
async fn users_cannot_see_or_touch_each_others_todos() {
    let app = spawn_app().await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    let todo = app.new_todo(&alice, "alice's secret").await;
    let id = todo["id"].as_str().unwrap();

    let bobs_list: Value = app.list_todos(&bob, "").await.json().await.unwrap();
    assert_eq!(bobs_list["items"], json!([]));
    assert_problem(app.get_todo(&bob, id).await, 404).await;
    assert_problem(
        app.patch_todo(&bob, id, json!({ "title": "mine now" }), None)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.patch_todo(&bob, id, json!({ "title": "mine now" }), Some("*"))
            .await,
        404,
    )
    .await;
    assert_problem(app.delete_todo(&bob, id).await, 404).await;

    let still: Value = app.get_todo(&alice, id).await.json().await.unwrap();
    assert_eq!(still, todo, "alice's todo is untouched");
}

#[tokio::test]
async fn malformed_ids_are_not_found() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    for id in ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FA", "..%2F..%2Fetc", "%00"] {
        assert_problem(app.get_todo(&alice, id).await, 404).await;
    }
}

#[tokio::test]
async fn a_device_creates_todos_under_its_own_ids() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let put = |token: &str, id: &str, if_none_match: Option<&str>| {
        let mut request = app
            .request(Method::PUT, &format!("/todos/{id}"), Some(token))
            .json(&json!({ "title": "made offline" }));
        if let Some(value) = if_none_match {
            request = request.header("if-none-match", value);
        }
        request.send()
    };
    for id in [
        "01JD6Z1Q5V3M7Z8R9X2K4N6P8T",
        "0190f4b2-7c3e-7d4a-9b1e-3f5a6c7d8e9f",
    ] {
        let created = put(&alice, id, Some("*")).await.unwrap();
        assert_eq!(created.status(), 201, "{id}");
        assert_eq!(
            created.headers()["location"],
            format!("/todos/{id}").as_str()
        );
        let todo: Value = created.json().await.unwrap();
        assert_eq!(todo["id"], id, "the id comes back as sent");
        assert_eq!(app.get_todo(&alice, id).await.status(), 200);
    }

    // Sent again (a retry after a lost answer): 412 with what is there.
    let ulid = "01JD6Z1Q5V3M7Z8R9X2K4N6P8T";
    let patched = app
        .patch_todo(&alice, ulid, json!({ "completed": true }), None)
        .await;
    assert_eq!(patched.status(), 200);
    let again = assert_problem(put(&alice, ulid, Some("*")).await.unwrap(), 412).await;
    assert_eq!(again["current_version"], 2);
    assert_eq!(again["current"]["completed"], true);
    assert_eq!(again["current"]["id"], ulid);

    // Another user's todos are another partition: the same id is theirs.
    assert_eq!(put(&bob, ulid, Some("*")).await.unwrap().status(), 201);
    let mine: Value = app.get_todo(&alice, ulid).await.json().await.unwrap();
    assert_eq!(
        mine["completed"], true,
        "bob's create left alice's todo alone"
    );

    let problem = assert_problem(put(&alice, "not-an-id", Some("*")).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["id"]);
    let fresh = "01JD6Z1Q5V3M7Z8R9X2K4N6P8V";
    assert_problem(put(&alice, fresh, None).await.unwrap(), 428).await;
    assert_problem(put(&alice, fresh, Some("\"v1\"")).await.unwrap(), 428).await;
    assert_problem(app.get_todo(&alice, fresh).await, 404).await;
}

#[tokio::test]
async fn a_stale_write_is_told_the_current_todo() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "milk").await;
    let edit = app
        .patch_todo(&alice, &id, json!({ "title": "oat milk" }), Some("\"v1\""))
        .await;
    assert_eq!(edit.status(), 200);
    let stale = app
        .patch_todo(&alice, &id, json!({ "title": "soy milk" }), Some("\"v1\""))
        .await;
    let problem = assert_problem(stale, 412).await;
    assert_eq!(problem["current_version"], 2);
    assert_eq!(problem["current"]["title"], "oat milk");
    let delete = app
        .request(Method::DELETE, &format!("/todos/{id}"), Some(&alice))
        .header("if-match", "\"v1\"")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(delete, 412).await;
    assert_eq!(problem["current_version"], 2);
}
