//! Delta sync (`GET /todos/changes`): a snapshot in pages, then exactly the
//! changes since, deletions included; tokens that can't be forged or
//! borrowed; long polling; no change missed under concurrent writers.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Replica, TestApp, assert_problem, spawn_app};

#[tokio::test]
async fn a_first_sync_is_a_snapshot_in_pages_then_only_what_changed() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let mut ids = Vec::new();
    for title in ["a", "b", "c", "d", "e"] {
        ids.push(app.new_todo_id(&alice, title).await);
    }
    app.new_todo_id(&bob, "bob's").await;
    assert_eq!(app.delete_todo(&alice, &ids[4]).await.status(), 204);

    // The snapshot: live todos only, two a page, each once.
    let mut phone = Replica::default();
    let mut pages = Vec::new();
    loop {
        let step = app
            .sync_step(&alice, phone.since.as_deref(), "&limit=2")
            .await;
        pages.push(step.changes.len());
        phone.apply(&step);
        if !step.more {
            break;
        }
    }
    assert_eq!(pages.iter().sum::<usize>(), 4, "pages: {pages:?}");
    assert!(pages.iter().all(|&n| n <= 2), "pages: {pages:?}");
    assert_eq!(
        phone.todos.keys().cloned().collect::<Vec<_>>(),
        ids[..4].to_vec()
    );
    assert!(phone.todos.values().all(|t| t["title"] != "bob's"));

    // Nothing new: nothing sent, and the token still works.
    let quiet = app.sync_step(&alice, phone.since.as_deref(), "").await;
    assert!(quiet.changes.is_empty() && !quiet.more);
    phone.apply(&quiet);

    // Two edits of one todo, a delete, a create: three changes, each todo
    // once in its latest state, in the order of their last change.
    for title in ["a2", "a3"] {
        let edit = app
            .patch_todo(&alice, &ids[0], json!({ "title": title }), None)
            .await;
        assert_eq!(edit.status(), 200);
    }
    assert_eq!(app.delete_todo(&alice, &ids[1]).await.status(), 204);
    let created = app.new_todo(&alice, "f").await;
    app.new_todo_id(&bob, "bob's second").await;
    let step = app.sync_step(&alice, phone.since.as_deref(), "").await;
    let summary: Vec<(&str, bool)> = step
        .changes
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["deleted"].as_bool().unwrap()))
        .collect();
    let new_id = created["id"].as_str().unwrap();
    assert_eq!(
        summary,
        [
            (ids[0].as_str(), false),
            (ids[1].as_str(), true),
            (new_id, false)
        ]
    );
    assert_eq!(step.changes[0]["todo"]["title"], "a3");
    assert_eq!(step.changes[0]["todo"]["version"], 3);
    assert!(
        step.changes[1].get("todo").is_none(),
        "a tombstone has no todo"
    );
    assert_eq!(step.changes[2]["todo"], created);
    phone.apply(&step);

    // The device now holds exactly what a fresh snapshot holds.
    let mut tablet = Replica::default();
    tablet.sync(&app, &alice).await;
    assert_eq!(phone.todos, tablet.todos);
    assert_eq!(tablet.todos.len(), 4);
}

#[tokio::test]
async fn changes_come_in_pages_of_the_limit() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let mut phone = Replica::default();
    phone.sync(&app, &alice).await;
    for n in 0..7 {
        app.new_todo_id(&alice, &format!("todo {n}")).await;
    }
    let mut sizes = Vec::new();
    loop {
        let step = app
            .sync_step(&alice, phone.since.as_deref(), "&limit=3")
            .await;
        sizes.push(step.changes.len());
        phone.apply(&step);
        if !step.more {
            break;
        }
    }
    assert_eq!(sizes.iter().sum::<usize>(), 7, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 3), "{sizes:?}");
    assert_eq!(phone.todos.len(), 7);
}

#[tokio::test]
async fn tokens_cannot_be_forged_or_borrowed() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.new_todo_id(&alice, "secret plans").await;
    let token = app.sync_step(&alice, None, "").await.next;

    let borrowed = app.changes(&bob, Some(&token), "").await;
    let problem = assert_problem(borrowed, 400).await;
    assert!(problem["detail"].as_str().unwrap().contains("since"));

    let mut tampered = token.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_problem(app.changes(&alice, Some(&tampered), "").await, 400).await;
    for junk in ["", "x", "a.b", "..", "%00"] {
        assert_problem(app.changes(&alice, Some(junk), "").await, 400).await;
    }

    for (extra, field) in [
        ("&limit=0", "limit"),
        ("&limit=1001", "limit"),
        ("&wait=31", "wait"),
    ] {
        let problem = assert_problem(app.changes(&alice, Some(&token), extra).await, 422).await;
        assert_eq!(crate::helpers::error_fields(&problem), [field], "{extra}");
    }
    assert_problem(app.changes(&alice, Some(&token), "&colour=red").await, 422).await;
    let anonymous = app.get_public("/todos/changes").await;
    assert_problem(anonymous, 401).await;
}

#[tokio::test]
async fn a_token_older_than_the_retention_is_gone() {
    let app = TestApp::builder()
        .with_env("APP_SYNC_RETENTION", "1s")
        .spawn()
        .await;
    let alice = app.token("alice").await;
    app.new_todo_id(&alice, "a").await;
    let token = app.sync_step(&alice, None, "").await.next;
    assert_eq!(app.changes(&alice, Some(&token), "").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let problem = assert_problem(app.changes(&alice, Some(&token), "").await, 410).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("without `since`")
    );
    // Starting again works.
    let mut phone = Replica::default();
    phone.sync(&app, &alice).await;
    assert_eq!(phone.todos.len(), 1);
}

#[tokio::test]
async fn a_waiting_sync_answers_as_soon_as_another_device_writes() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let token = app.sync_step(&alice, None, "").await.next;

    // Nothing changes: the wait ends empty, with a token that still works.
    let quiet = app.sync_step(&alice, Some(&token), "&wait=1").await;
    assert!(quiet.changes.is_empty() && !quiet.more);

    let started = Instant::now();
    let url = app.url(&format!("/todos/changes?since={token}&wait=20"));
    let request = app.client.get(url).bearer_auth(&alice);
    let waiting = tokio::spawn(async move {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        (response.json::<Value>().await.unwrap(), Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.new_todo_id(&bob, "someone else's").await;
    let id = app.new_todo_id(&alice, "from the other device").await;
    let (answer, answered) = waiting.await.unwrap();
    assert_eq!(answer["changes"][0]["id"], id.as_str(), "{answer}");
    assert_eq!(answer["changes"].as_array().unwrap().len(), 1);
    // Woken by the write, not by the end of its 20 seconds.
    assert!(answered - started < Duration::from_secs(10));
}

/// Two devices write at once while a third syncs over and over; when the
/// writing stops, one more sync leaves it holding exactly what a fresh
/// snapshot holds. On moto the writers and the syncer use two instances
/// over one table (see `aws::no_change_is_missed_across_instances`).
#[tokio::test]
async fn no_change_is_missed_while_devices_write_at_once() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    no_change_is_missed(&[&app, &app], &alice).await;
}

/// The check of [`no_change_is_missed_while_devices_write_at_once`], with
/// one writer per instance in `apps` and a syncer alternating between them.
pub async fn no_change_is_missed(apps: &[&TestApp], token: &str) {
    let writers = apps
        .iter()
        .enumerate()
        .map(|(n, app)| write_a_while(app, token, n));
    let writing = futures_util::future::join_all(writers);
    let syncing = async {
        let mut phone = Replica::default();
        let mut calls = 0;
        for round in 0..40 {
            phone.sync(apps[round % apps.len()], token).await;
            calls += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (phone, calls)
    };
    let (expected, (mut phone, _)) = tokio::join!(writing, syncing);
    for app in apps {
        phone.sync(app, token).await;
    }
    let mut fresh = Replica::default();
    fresh.sync(apps[0], token).await;
    assert_eq!(phone.todos, fresh.todos);
    let live: usize = expected.iter().sum();
    assert_eq!(fresh.todos.len(), live);
}

/// Creates 12 todos, edits every other one and deletes every third, as
/// fast as answers come; returns how many are left.
async fn write_a_while(app: &TestApp, token: &str, writer: usize) -> usize {
    let mut live = 0;
    for n in 0..12 {
        let title = format!("writer {writer} todo {n}");
        let created = once_not_busy(|| app.create_todo(token, json!({ "title": title }))).await;
        assert_eq!(created.status(), 201);
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        live += 1;
        if n % 2 == 0 {
            let edit =
                once_not_busy(|| app.patch_todo(token, &id, json!({ "completed": true }), None))
                    .await;
            assert_eq!(edit.status(), 200);
        }
        if n % 3 == 0 {
            let deleted = once_not_busy(|| app.delete_todo(token, &id)).await;
            assert_eq!(deleted.status(), 204);
            live -= 1;
        }
    }
    live
}

/// Sends a request until it is not answered 503, as a client that honours
/// `Retry-After` does (sooner, here). Two writers in a closed loop on one
/// user make each other lose races for the user's change counter; a write
/// that lost 12 in a row answers 503 having applied nothing.
async fn once_not_busy<F, R>(mut send: F) -> reqwest::Response
where
    F: FnMut() -> R,
    R: Future<Output = reqwest::Response>,
{
    for _ in 0..10 {
        let response = send().await;
        if response.status() != 503 {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("still 503 after 10 tries");
}

/// Reads a Server-Sent Events stream until its next `changes` event;
/// returns the event's id and data.
async fn next_changes_event(
    stream: &mut reqwest::Response,
    buffer: &mut String,
) -> (String, Value) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim_start().to_string())
            };
            if field("event:").as_deref() == Some("changes") {
                let data = serde_json::from_str(&field("data:").unwrap()).unwrap();
                return (field("id:").unwrap(), data);
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn a_stream_pushes_each_change_and_resumes_after_its_last_event() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let token = app.sync_step(&alice, None, "").await.next;
    let open = |last_event: Option<String>| {
        let mut request = app
            .client
            .get(app.url(&format!("/todos/events?since={token}")))
            .bearer_auth(&alice);
        if let Some(id) = last_event {
            request = request.header("last-event-id", id);
        }
        request.send()
    };

    let mut stream = open(None).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let first = app.new_todo_id(&alice, "first").await;
    let (last_id, data) = next_changes_event(&mut stream, &mut buffer).await;
    assert_eq!(data["changes"][0]["id"], first.as_str(), "{data}");
    drop(stream);

    // Offline for a moment: a change happens; the reconnect resumes after
    // the last event seen, so it gets exactly that change.
    let second = app.new_todo_id(&alice, "second").await;
    let mut stream = open(Some(last_id)).await.unwrap();
    let (_, data) = next_changes_event(&mut stream, &mut String::new()).await;
    let ids: Vec<&str> = data["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str()]);

    let bob = app.token("bob").await;
    let borrowed = app
        .client
        .get(app.url(&format!("/todos/events?since={token}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_problem(borrowed, 400).await;
}
