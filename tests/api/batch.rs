//! `POST /todos/batch`: an offline queue applied in order, all or nothing;
//! errors that name the operation; each client's mutations applied once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Replica, TestApp, assert_problem, error_fields, spawn_app};

impl TestApp {
    pub async fn batch(&self, token: &str, body: Value) -> reqwest::Response {
        let request = self.request(Method::POST, "/todos/batch", Some(token));
        request.json(&body).send().await.unwrap()
    }
}

const OFFLINE_ID: &str = "01JD6Z1Q5V3M7Z8R9X2K4N6P8T";

#[tokio::test]
async fn a_queue_applies_in_order_in_one_go() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let kept = app.new_todo_id(&alice, "kept").await;
    let doomed = app.new_todo_id(&alice, "doomed").await;
    let mut phone = Replica::default();
    phone.sync(&app, &alice).await;

    let answer = app
        .batch(
            &alice,
            json!({ "operations": [
                { "op": "create", "id": OFFLINE_ID, "todo": { "title": "made offline" } },
                { "op": "update", "id": kept, "if_version": 1, "changes": { "completed": true } },
                { "op": "delete", "id": doomed, "if_version": 1 },
                { "op": "update", "id": OFFLINE_ID, "changes": { "notes": "then edited" } },
                { "op": "create", "todo": { "title": "made and dropped", "notes": "" } },
            ]}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let results: Value = answer.json().await.unwrap();
    let results = results["results"].as_array().unwrap();
    let ops: Vec<&str> = results.iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "update", "delete", "update", "create"]);
    assert_eq!(results[0]["todo"]["id"], OFFLINE_ID);
    assert_eq!(
        results[3]["todo"]["version"], 2,
        "the edit builds on the create"
    );
    assert_eq!(results[3]["todo"]["notes"], "then edited");
    assert_eq!(results[1]["todo"]["completed"], true);
    assert_eq!(results[2]["id"], doomed.as_str());

    let offline: Value = app.get_todo(&alice, OFFLINE_ID).await.json().await.unwrap();
    assert_eq!(offline, results[3]["todo"]);
    assert_problem(app.get_todo(&alice, &doomed).await, 404).await;
    assert_eq!(app.todo_count(&alice).await, 3);

    // Another device learns all of it in one sync.
    phone.sync(&app, &alice).await;
    let mut fresh = Replica::default();
    fresh.sync(&app, &alice).await;
    assert_eq!(phone.todos, fresh.todos);
}

#[tokio::test]
async fn one_bad_operation_applies_nothing_and_is_named() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "milk").await;
    let edit = app
        .patch_todo(&alice, &id, json!({ "title": "oat milk" }), None)
        .await;
    assert_eq!(edit.status(), 200);
    let create = json!({ "op": "create", "todo": { "title": "should not exist" } });

    let missing = json!({ "operations": [create, { "op": "delete", "id": OFFLINE_ID }] });
    let problem = assert_problem(app.batch(&alice, missing).await, 404).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("operations[1]"),
        "{problem}"
    );

    let stale = json!({ "operations": [create,
        { "op": "update", "id": id, "if_version": 1, "changes": { "completed": true } }] });
    let problem = assert_problem(app.batch(&alice, stale).await, 412).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("operations[1]"),
        "{problem}"
    );
    assert_eq!(problem["current_version"], 2);
    assert_eq!(problem["current"]["title"], "oat milk");

    let invalid = json!({ "operations": [create, create,
        { "op": "create", "todo": { "title": " " } }] });
    let problem = assert_problem(app.batch(&alice, invalid).await, 422).await;
    assert_eq!(error_fields(&problem), ["operations[2].todo.title"]);

    let empty_change = json!({ "operations": [{ "op": "update", "id": id, "changes": {} }] });
    let problem = assert_problem(app.batch(&alice, empty_change).await, 422).await;
    assert_eq!(error_fields(&problem), ["operations[0].changes"]);

    let twice = json!({ "operations": [
        { "op": "create", "id": OFFLINE_ID, "todo": { "title": "a" } },
        { "op": "create", "id": OFFLINE_ID, "todo": { "title": "b" } }] });
    let problem = assert_problem(app.batch(&alice, twice).await, 412).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("operations[1]")
    );

    let too_many = json!({ "operations": vec![create.clone(); 26] });
    let problem = assert_problem(app.batch(&alice, too_many).await, 422).await;
    assert_eq!(error_fields(&problem), ["operations"]);
    for body in [
        json!({ "operations": [] }),
        json!({ "operations": [{ "op": "rename", "id": id }] }),
        json!({ "operations": [{ "op": "delete", "id": "not-an-id" }] }),
        json!({ "operations": [create], "mutation_id": 1 }),
        json!({ "operations": [create], "client_id": "phone" }),
        json!({ "operations": [create], "client_id": "a#b", "mutation_id": 1 }),
        json!({ "operations": [create], "client_id": "phone", "mutation_id": 0 }),
        json!({ "operations": [create], "colour": "red" }),
    ] {
        assert_problem(app.batch(&alice, body.clone()).await, 422).await;
    }

    // Nothing of any of them was applied.
    assert_eq!(app.todo_count(&alice).await, 1);
    let todo: Value = app.get_todo(&alice, &id).await.json().await.unwrap();
    assert_eq!(todo["version"], 2);
}

#[tokio::test]
async fn each_mutation_of_a_client_applies_once_and_in_order() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let numbered = |n: u64, title: &str| {
        json!({ "client_id": "phone-1", "mutation_id": n,
            "operations": [{ "op": "create", "todo": { "title": title } }] })
    };
    let first = app.batch(&alice, numbered(1, "one")).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();

    // The answer was lost; the phone sends it again: the same answer, once.
    let again: Value = app
        .batch(&alice, numbered(1, "one"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(app.todo_count(&alice).await, 1);

    let gap = assert_problem(app.batch(&alice, numbered(3, "three")).await, 409).await;
    assert!(
        gap["detail"].as_str().unwrap().contains("the next is 2"),
        "{gap}"
    );
    assert_eq!(app.batch(&alice, numbered(2, "two")).await.status(), 200);
    let older: Value = app
        .batch(&alice, numbered(1, "one"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(older, first, "an older mutation gets its first answer");
    let reused = assert_problem(app.batch(&alice, numbered(2, "not two")).await, 422).await;
    assert_eq!(error_fields(&reused), ["mutation_id"]);
    assert_eq!(app.todo_count(&alice).await, 2);

    // Sync says how far each client got; another user's clients are theirs.
    let bob = app.token("bob").await;
    let answer: Value = app.changes(&alice, None, "").await.json().await.unwrap();
    assert_eq!(answer["clients"], json!({ "phone-1": 2 }));
    assert_eq!(app.batch(&bob, numbered(7, "bob's")).await.status(), 200);
    let answer: Value = app.changes(&bob, None, "").await.json().await.unwrap();
    assert_eq!(answer["clients"], json!({ "phone-1": 7 }));
}

#[tokio::test]
async fn a_batch_resent_at_once_applies_once() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let body = json!({ "client_id": "tablet", "mutation_id": 1, "operations":
        (0..5).map(|n| json!({ "op": "create", "todo": { "title": format!("t{n}") } })).collect::<Vec<_>>() });
    let sends = (0..4).map(|_| app.batch(&alice, body.clone()));
    let answers = futures::future::join_all(sends).await;
    let mut bodies = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), 200);
        bodies.push(answer.json::<Value>().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "one answer for all"
    );
    assert_eq!(app.todo_count(&alice).await, 5);

    let keyed = |title: &str| {
        app.request(Method::POST, "/todos/batch", Some(&alice))
            .header("idempotency-key", "flush-1")
            .json(&json!({ "operations": [{ "op": "create", "todo": { "title": title } }] }))
            .send()
    };
    let first: Value = keyed("x").await.unwrap().json().await.unwrap();
    let again: Value = keyed("x").await.unwrap().json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(app.todo_count(&alice).await, 6);
}

/// The largest batch: 25 todos with the longest notes, in three-byte
/// characters. Its kept answer would not fit a DynamoDB item, so a resend
/// gets it abridged; nothing fails.
#[tokio::test]
async fn the_largest_batch_applies_and_replays() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let notes = "€".repeat(10_000);
    let operations: Vec<Value> = (0..25)
        .map(|n| json!({ "op": "create", "todo": { "title": format!("t{n}"), "notes": notes } }))
        .collect();
    let body = json!({ "client_id": "phone", "mutation_id": 1, "operations": operations });
    let first = app.batch(&alice, body.clone()).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["results"][24]["todo"]["notes"], notes.as_str());
    let again: Value = app.batch(&alice, body).await.json().await.unwrap();
    assert_eq!(again["abridged"], true);
    assert_eq!(
        again["results"][24]["todo"]["id"],
        first["results"][24]["todo"]["id"]
    );
    assert_eq!(app.todo_count(&alice).await, 25);
}
