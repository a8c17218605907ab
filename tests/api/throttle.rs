//! The in-service throttle: each caller's own budgets, described on every
//! answer, 429 with `Retry-After` past them, and one caller's flood never
//! spends another's.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

/// One request a second of each class (two at once), each client address
/// its own: slow enough that a burst is spent before a second passes, on
/// any backend.
async fn throttled_app() -> TestApp {
    TestApp::builder()
        .with_env("APP_THROTTLE_READS", "1")
        .with_env("APP_THROTTLE_WRITES", "1")
        .with_env("APP_THROTTLE_PUBLIC", "1")
        .with_env("APP_TRUSTED_PROXY_HOPS", "1")
        .spawn()
        .await
}

/// The `RateLimit-Policy` and `RateLimit` of an answer.
fn budget(response: &Response) -> (String, String) {
    let header = |name: &str| {
        let value = response.headers().get(name);
        value
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    (header("ratelimit-policy"), header("ratelimit"))
}

#[tokio::test]
async fn a_user_over_their_read_budget_waits_and_others_do_not() {
    let app = throttled_app().await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    for left in (0..2).rev() {
        let answer = app.get("/todos", &alice).await;
        assert_eq!(answer.status(), 200);
        let (policy, state) = budget(&answer);
        assert_eq!(policy, r#""reads";q=2;w=2"#);
        assert!(
            state.starts_with(&format!(r#""reads";r={left};t="#)),
            "{state}"
        );
    }
    let refused = app.get("/todos", &alice).await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait, 1);
    assert!(budget(&refused).1.starts_with(r#""reads";r=0;t=1"#));
    let problem = assert_problem(refused, 429).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("too many requests")
    );

    // Bob's budget is his own; Alice's writes have a budget of their own.
    assert_eq!(app.get("/todos", &bob).await.status(), 200);
    let missing = app.get("/todos/01JD6Z1Q5V3M7Z8R9X2K4N6P8T", &bob).await;
    assert_eq!(missing.status(), 404);
    assert!(budget(&missing).1.starts_with(r#""reads";r=0;"#));
    let created = app
        .create_todo(&alice, json!({ "title": "still allowed" }))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(budget(&created).0, r#""writes";q=2;w=2"#);

    // After the wait it was told, Alice reads again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.get("/todos", &alice).await.status(), 200);
}

#[tokio::test]
async fn anonymous_callers_are_counted_by_address_and_probes_never() {
    let app = throttled_app().await;
    let from = async |address: &str| {
        let request = app.request(Method::GET, "/blog/posts", None);
        request
            .header("x-forwarded-for", address)
            .send()
            .await
            .unwrap()
    };
    for _ in 0..2 {
        assert_eq!(from("203.0.113.1").await.status(), 200);
    }
    let refused = from("203.0.113.1").await;
    assert_eq!(budget(&refused).0, r#""public";q=2;w=2"#);
    assert_problem(refused, 429).await;
    assert_eq!(from("203.0.113.2").await.status(), 200, "another address");

    // Refused tokens count against their address too.
    let forged = async || {
        let request = app.request(Method::GET, "/todos", Some("not.a.token"));
        request
            .header("x-forwarded-for", "203.0.113.3")
            .send()
            .await
            .unwrap()
    };
    for _ in 0..2 {
        let refused = forged().await;
        assert_eq!(budget(&refused).0, r#""public";q=2;w=2"#);
        assert_problem(refused, 401).await;
    }
    assert_problem(forged().await, 429).await;

    for _ in 0..20 {
        let probe = app.get_public("/healthz").await;
        assert_eq!(probe.status(), 200);
        assert!(probe.headers().get("ratelimit").is_none());
    }
}
