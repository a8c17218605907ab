//! Subscribing, the one welcome email, and unsubscribing, end to end. The
//! welcome email is a reaction to the stored subscriber: locally the embedded
//! store's change feed delivers it; against moto the test plays Lambda's part
//! and hands the table's real DynamoDB Stream records to the reaction.

use mail_parser::MessageParser;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};
use crate::mail::sent;

/// The messages sent to `to` so far (run the reactions first:
/// [`TestApp::drain_reactions`]).
pub async fn mail_to(app: &TestApp, to: &str) -> Vec<Vec<u8>> {
    let mine = format!("To: <{to}>");
    let all = sent_so_far(app).await;
    all.into_iter()
        .filter(|raw| String::from_utf8_lossy(raw).contains(&mine))
        .collect()
}

async fn sent_so_far(app: &TestApp) -> Vec<Vec<u8>> {
    if app.aws.is_none() && !app.config.data_dir.join("outbox").exists() {
        return vec![];
    }
    sent(app).await
}

fn unique_address() -> String {
    format!(
        "reader-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// The unsubscribe link of a welcome email.
fn unsubscribe_path(raw: &[u8]) -> String {
    let parsed = MessageParser::default().parse(raw).unwrap();
    let header = parsed.header_raw("List-Unsubscribe").unwrap().trim();
    let url = header.trim_start_matches('<').trim_end_matches('>');
    let path = url.split_once("/blog/").unwrap().1;
    format!("/blog/{path}")
}

#[tokio::test]
async fn a_subscriber_gets_exactly_one_welcome_email() {
    let app = spawn_app().await;
    let email = unique_address();
    let first = app.subscribe(&email).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    // The same address again, spelled differently: the same answer.
    let again = app
        .subscribe(&format!("  {}  ", email.to_uppercase()))
        .await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    app.drain_reactions().await;
    app.drain_reactions().await; // a redelivery changes nothing

    let mail = mail_to(&app, &email).await;
    assert_eq!(mail.len(), 1, "one welcome email");
    assert_eq!(app.metric("atrium_emails_sent_total").await, 1);
    assert!(app.metric("atrium_events_handled_total").await >= 1);
    let parsed = MessageParser::default().parse(&mail[0]).unwrap();
    assert!(parsed.subject().unwrap().starts_with("Welcome to"));
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    let link = unsubscribe_path(&mail[0]);
    assert!(text.contains(&link), "the text part has the link");
    assert!(html.contains(&link), "the HTML part has the link");
    assert_eq!(
        parsed.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
}

#[tokio::test]
async fn concurrent_subscribes_of_one_address_send_one_email() {
    let app = TestApp::builder()
        .with_env("APP_SUBSCRIBE_LIMIT", "100")
        .spawn()
        .await;
    let email = unique_address();
    let attempts = (0..20).map(|_| app.subscribe(&email));
    for response in futures::future::join_all(attempts).await {
        assert_eq!(response.status(), 202);
    }
    // Racing deliveries of the same change, as retried stream batches would be.
    let deliveries = (0..3).map(|_| app.drain_reactions());
    futures::future::join_all(deliveries).await;
    assert_eq!(mail_to(&app, &email).await.len(), 1);
}

#[tokio::test]
async fn a_stream_event_delivered_twice_sends_one_email() {
    let app = spawn_app().await;
    let email = unique_address();
    assert_eq!(app.subscribe(&email).await.status(), 202);
    // The shape Lambda delivers for a DynamoDB Stream INSERT.
    let key = atrium::keys::subscriber(&email.parse().unwrap());
    let (pk, sk) = (key.pk.as_str(), key.sk.as_str());
    let event = json!({"Records": [{
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": {"PK": {"S": pk}, "SK": {"S": sk}},
            "NewImage": {
                "PK": {"S": pk}, "SK": {"S": sk},
                "email": {"S": email}, "version": {"N": "1"},
                "created_at": {"S": "2026-11-23T10:00:00Z"}
            },
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/atrium/stream/2026-11-23T00:00:00.000"
    }]});
    for _ in 0..2 {
        let answer = atrium::runtime::events::dispatch(app.app.reactions(), &event).await;
        assert_eq!(answer, Ok(json!({ "batchItemFailures": [] })));
    }
    app.drain_reactions().await; // and the real change, delivered as usual
    assert_eq!(mail_to(&app, &email).await.len(), 1);
}

#[tokio::test]
async fn the_link_unsubscribes_and_tampered_links_do_nothing() {
    let app = spawn_app().await;
    let email = unique_address();
    app.subscribe(&email).await;
    app.drain_reactions().await;
    let mail = mail_to(&app, &email).await;
    let link = unsubscribe_path(&mail[0]);

    let page = app.get_public(&link).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("<form method=\"post\""), "GET only asks");

    let (prefix, secret) = link.rsplit_once('.').unwrap();
    let flipped = if secret.starts_with('A') { "B" } else { "A" };
    let other = format!(
        "{}.{secret}",
        prefix.replace(&prefix[19..], "b3RoZXJAZXhhbXBsZS5jb20")
    );
    for tampered in [
        format!("{prefix}.{flipped}{}", &secret[1..]),
        format!("{prefix}."),
        other,
        "/blog/subscribers/not-a-token".to_string(),
    ] {
        let response = app.unsubscribe(&tampered).await;
        assert_problem(response, 404).await;
    }
    let done = app.unsubscribe(&link).await;
    assert_eq!(
        done.status(),
        204,
        "the real link still works: nothing was unsubscribed before"
    );
    let again = app.unsubscribe(&link).await;
    assert_problem(again, 404).await;
}

#[tokio::test]
async fn one_click_unsubscribe_by_post() {
    let app = spawn_app().await;
    let email = unique_address();
    app.subscribe(&email).await;
    app.drain_reactions().await;
    let link = unsubscribe_path(&mail_to(&app, &email).await[0]);
    let response = app.unsubscribe_one_click(&link).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("unsubscribed"));
    assert_problem(app.get_public(&link).await, 404).await;
}

#[tokio::test]
async fn bad_addresses_and_floods_are_refused() {
    // Every request counts against the budget, valid or not.
    let app = TestApp::builder()
        .with_env("APP_SUBSCRIBE_LIMIT", "5")
        .with_env("APP_SUBSCRIBE_WINDOW", "1h")
        .spawn()
        .await;
    for bad in [
        "",
        "not-an-address",
        "a@b",
        "x@example.com\r\nBcc: y@example.com",
    ] {
        assert_problem(app.subscribe(bad).await, 422).await;
    }
    assert_eq!(app.subscribe(&unique_address()).await.status(), 202);
    let response = app.subscribe(&unique_address()).await;
    let problem = assert_problem(response, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("too many"));
    // Five at once, then one more every 12 minutes: 5 an hour.
    let response = app.subscribe(&unique_address()).await;
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((700..=720).contains(&wait), "{wait}");
    let wrong_shape = app
        .request(Method::POST, "/blog/subscribers", None)
        .json(&json!({ "mail": "a@example.com" }))
        .send()
        .await
        .unwrap();
    assert!(matches!(wrong_shape.status().as_u16(), 422 | 429));
}

#[tokio::test]
async fn behind_a_proxy_the_budget_is_per_forwarded_client() {
    let app = TestApp::builder()
        .with_env("APP_SUBSCRIBE_LIMIT", "1")
        .with_env("APP_TRUSTED_PROXY_HOPS", "1")
        .spawn()
        .await;
    let from = async |forwarded: &str| {
        let response = app.subscribe_as(&unique_address(), Some(forwarded)).await;
        response.status()
    };
    assert_eq!(from("203.0.113.1").await, 202);
    assert_eq!(from("203.0.113.2").await, 202, "another client");
    assert_eq!(from("203.0.113.1").await, 429);
    // What the client itself puts on the left can't buy a fresh budget.
    assert_eq!(from("198.51.100.7, 203.0.113.1").await, 429);
}

#[tokio::test]
async fn a_change_made_while_the_workers_are_stopped_is_handled_when_they_start() {
    let mut app = spawn_app().await;
    if app.aws.is_some() {
        return; // on AWS, Lambda delivers the stream; there are no workers
    }
    app.stop_workers().await;
    let email = unique_address();
    assert_eq!(app.subscribe(&email).await.status(), 202);
    app.drain_reactions().await;
    assert!(
        mail_to(&app, &email).await.is_empty(),
        "stopped workers do nothing"
    );

    app.start_workers();
    app.drain_reactions().await;
    let mail = mail_to(&app, &email).await;
    assert_eq!(mail.len(), 1, "the change waited in the feed");
}
