//! What only the AWS path has: `atrium migrate`, Cognito's own tokens, a
//! backend outage and throttling. They need the moto server and the test
//! credentials that `./scripts/test` provides, so they are ignored by a plain
//! `cargo test` and run in the script's moto pass (`--run-ignored all`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamViewType, TimeToLiveStatus,
};
use serde_json::{Value, json};

use crate::emulator::{REGION, moto_url, sdk, unique};
use crate::helpers::{TestApp, assert_problem, spawn_app};

const NEEDS_MOTO: &str = "run through ./scripts/test, which starts moto";

fn moto() -> String {
    moto_url().expect(NEEDS_MOTO)
}

/// Runs `atrium migrate` on `table` at `endpoint`; returns what it printed.
fn migrate(endpoint: &str, table: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .arg("migrate")
        .env("APP_STORE", "dynamodb")
        .env("APP_TABLE", table)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", REGION)
        .output()
        .expect("run atrium migrate");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "migrate failed: {stdout}{stderr}");
    stdout
}

#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn migrate_creates_the_table_then_changes_nothing() {
    let url = moto();
    let table = unique("migrated");
    let first = migrate(&url, &table);
    assert!(first.contains("created table"), "{first}");
    assert!(first.contains("enabled TTL on expires_at"), "{first}");
    assert!(first.contains("enabled point-in-time recovery"), "{first}");
    assert_eq!(
        migrate(&url, &table).trim(),
        format!("table {table} is up to date")
    );

    let client = aws_sdk_dynamodb::Client::new(&sdk(&url).await);
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let described = described.table.unwrap();
    let gsi = described.global_secondary_indexes();
    assert_eq!(gsi.len(), 1);
    assert_eq!(gsi[0].index_name(), Some("GSI1"));
    let stream = described.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
}

#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn migrate_adds_what_an_older_table_lacks() {
    let url = moto();
    let table = unique("older");
    let client = aws_sdk_dynamodb::Client::new(&sdk(&url).await);
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string("PK"))
        .attribute_definitions(string("SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .send()
        .await
        .unwrap();
    let changes = migrate(&url, &table);
    for expected in [
        "added index GSI1",
        "enabled stream (NEW_AND_OLD_IMAGES)",
        "enabled TTL",
    ] {
        assert!(changes.contains(expected), "{expected} in {changes}");
    }
    assert!(!changes.contains("created table"));
    assert!(migrate(&url, &table).contains("up to date"));
}

/// A restore makes a new table, and DynamoDB restores neither its TTL, its
/// stream nor its point-in-time recovery: `migrate` puts them back, and a
/// service pointed at the new table serves what the backup held.
#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn migrate_adopts_a_table_restored_from_a_backup() {
    let a = spawn_app().await;
    let alice = a.token("alice").await;
    let id = a.new_todo_id(&alice, "kept by the backup").await;
    let aws = a.aws.as_ref().expect(NEEDS_MOTO);
    let client = aws_sdk_dynamodb::Client::new(&sdk(&aws.url).await);
    let backup = client
        .create_backup()
        .table_name(&aws.table)
        .backup_name("nightly")
        .send()
        .await
        .unwrap();
    let arn = backup.backup_details.unwrap().backup_arn;
    let restored = unique("restored");
    client
        .restore_table_from_backup()
        .target_table_name(&restored)
        .backup_arn(arn)
        .send()
        .await
        .unwrap();

    let changes = migrate(&aws.url, &restored);
    assert!(!changes.contains("created table"), "{changes}");
    assert!(changes.contains("enabled stream"), "{changes}");
    assert!(changes.contains("enabled TTL"), "{changes}");
    assert!(
        changes.contains("enabled point-in-time recovery"),
        "{changes}"
    );
    assert_eq!(
        migrate(&aws.url, &restored).trim(),
        format!("table {restored} is up to date")
    );
    let mut b = TestApp::builder();
    for (name, value) in aws.vars() {
        b = b.with_env(&name, &value);
    }
    let b = b.with_env("APP_TABLE", &restored).spawn().await;
    let todo: Value = b
        .get(&format!("/todos/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(todo["title"], "kept by the backup", "{todo}");
}

#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn cognito_access_tokens_are_verified_through_the_pool_jwks() {
    let app = spawn_app().await;
    let token = app.token_in("alice", &["authors"]).await;
    let me: Value = app.get("/me", &token).await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["groups"], json!(["authors"]));
    assert_eq!(me["sub"].as_str().unwrap().len(), 36, "Cognito's UUID sub");

    // Same signing key (moto has one), but another pool: wrong issuer.
    let other = spawn_app().await;
    let foreign = other.token("alice").await;
    assert_problem(app.get("/me", &foreign).await, 401).await;
}

/// A moto server of the test's own, so stopping it disturbs no other test.
struct PrivateMoto {
    child: Child,
    port: u16,
}

impl PrivateMoto {
    async fn start(port: u16) -> Self {
        let python = std::env::var("ATRIUM_TEST_PYTHON").expect(NEEDS_MOTO);
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Self { child, port };
        for _ in 0..100 {
            if reqwest::get(moto.url()).await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not start on {port}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn an_outage_answers_503_and_the_service_recovers_without_a_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dynamo = PrivateMoto::start(port).await;
    let table = unique("outage");
    migrate(&dynamo.url(), &table);
    // Cognito stays on the shared moto; the table lives on the private one.
    let endpoint = dynamo.url();
    let app = TestApp::builder()
        .with_env("AWS_ENDPOINT_URL", &endpoint)
        .with_env("APP_TABLE", &table)
        .spawn()
        .await;
    let alice = app.token("alice").await;
    app.new_todo(&alice, "before the outage").await;

    dynamo.stop();
    let listing = app.list_todos(&alice, "?limit=7").await;
    assert_eq!(listing.headers()["retry-after"], "2");
    assert_problem(listing, 503).await;
    assert_problem(
        app.create_todo(&alice, json!({"title": "lost?"})).await,
        503,
    )
    .await;
    assert_eq!(app.get_public("/readyz").await.status(), 503);

    // The emulator comes back (empty: moto keeps no state), the operator
    // migrates, and the same process serves again.
    let dynamo = PrivateMoto::start(port).await;
    migrate(&dynamo.url(), &table);
    app.new_todo(&alice, "after the outage").await;
    assert_eq!(app.get_public("/readyz").await.status(), 200);
    assert_eq!(app.todo_count(&alice).await, 1);
}

/// Answers every request the way DynamoDB answers when it throttles, and
/// counts them. (moto never throttles; this is the one place a stand-in
/// server is needed.)
async fn throttling_dynamodb() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let throttle = move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.0")],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
            )
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(throttle);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

#[tokio::test]
#[ignore = "needs the test credentials ./scripts/test exports"]
async fn throttling_is_retried_then_answered_503_with_retry_after() {
    let (endpoint, calls) = throttling_dynamodb().await;
    let app = TestApp::builder()
        .with_env("APP_STORE", "dynamodb")
        .with_env("APP_TABLE", "throttled")
        .with_env("AWS_ENDPOINT_URL", &endpoint)
        .with_env("AWS_REGION", REGION)
        .spawn()
        .await;
    let alice = app.token("alice").await;
    let response = app.list_todos(&alice, "").await;
    assert_eq!(response.headers()["retry-after"], "2");
    let problem = assert_problem(response, 503).await;
    assert!(
        !problem.to_string().contains("slow down"),
        "no backend detail leaks"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the SDK's standard 3 attempts"
    );
}

/// A second instance over the same table, as another process would be.
async fn second_instance(a: &TestApp) -> TestApp {
    let mut b = TestApp::builder();
    for (name, value) in a.aws.as_ref().expect(NEEDS_MOTO).vars() {
        b = b.with_env(&name, &value);
    }
    b.spawn().await
}

/// Delta sync across instances: two write at once through their own
/// caches while a device syncs from both, and misses nothing; a device
/// waiting on one instance hears of a write through the other.
#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn no_change_is_missed_across_instances() {
    let a = spawn_app().await;
    let b = second_instance(&a).await;
    let alice = a.token("alice").await;
    crate::sync::no_change_is_missed(&[&a, &b], &alice).await;

    let token = b.sync_step(&alice, None, "").await.next;
    let url = b.url(&format!("/todos/changes?since={token}&wait=20"));
    let started = std::time::Instant::now();
    let waiting = tokio::spawn(b.client.get(url).bearer_auth(&alice).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = a.new_todo_id(&alice, "written through a").await;
    let answer: Value = waiting.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["changes"][0]["id"], id.as_str(), "{answer}");
    // B polls the table each second: long before its 20 seconds are up.
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Two instances on one table: PATCH and DELETE start from the cached todo
/// (no backend read when this instance's cache is current) and fall back
/// to the latest when another instance wrote since, so nothing is lost and
/// no current ETag is refused.
#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn writes_through_another_instance_are_never_lost_to_a_stale_cache() {
    let a = spawn_app().await;
    let b = second_instance(&a).await;
    let alice = a.token("alice").await;
    let id = a.new_todo_id(&alice, "milk").await;
    let etag = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_string();

    // A PATCH on a todo this instance wrote reads nothing from the table.
    let bypassed = a.metric("atrium_cache_bypassed_total").await;
    let edit = a
        .patch_todo(&alice, &id, json!({"title": "oat milk"}), None)
        .await;
    assert_eq!(edit.status(), 200);
    assert_eq!(a.metric("atrium_cache_bypassed_total").await, bypassed);

    // B caches the todo, A changes it, B patches another field: A's title
    // stays (B's stale copy is retried on the latest).
    assert_eq!(b.get_todo(&alice, &id).await.status(), 200);
    let edit = a
        .patch_todo(&alice, &id, json!({"title": "soy milk"}), None)
        .await;
    assert_eq!(edit.status(), 200);
    let done = b
        .patch_todo(&alice, &id, json!({"completed": true}), None)
        .await;
    assert_eq!(done.status(), 200);
    let todo: Value = done.json().await.unwrap();
    assert_eq!(
        (todo["title"].as_str(), todo["completed"].as_bool()),
        (Some("soy milk"), Some(true))
    );

    // The client's ETag comes from A; B's cached copy is older: not a 412.
    let current = etag(
        &a.patch_todo(&alice, &id, json!({"notes": "2 litres"}), None)
            .await,
    );
    let checked = b
        .patch_todo(&alice, &id, json!({"title": "milk"}), Some(&current))
        .await;
    assert_eq!(checked.status(), 200);
    let stale = b
        .patch_todo(&alice, &id, json!({"title": "x"}), Some(&current))
        .await;
    assert_problem(stale, 412).await;

    let current = etag(
        &a.patch_todo(&alice, &id, json!({"completed": false}), None)
            .await,
    );
    let deleted = b
        .request(
            reqwest::Method::DELETE,
            &format!("/todos/{id}"),
            Some(&alice),
        )
        .header("if-match", current)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(b.get_todo(&alice, &id).await, 404).await;
}

/// On AWS the site goes to the site bucket, written by the reaction to the
/// DynamoDB stream, with the headers CloudFront serves it by; the service
/// itself serves no site then.
#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn the_site_is_generated_into_the_site_bucket_from_the_stream() {
    let url = moto();
    let s3 = crate::emulator::s3_client(&sdk(&url).await);
    let bucket = unique("site");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let app = TestApp::builder()
        .with_env("APP_SITE_BUCKET", &bucket)
        .spawn()
        .await;
    let ann = app.token_in("ann", &["authors"]).await;
    let cover = crate::uploads::upload(
        &app,
        &ann,
        "c.png",
        "image/png",
        crate::uploads::png(600, 300),
    )
    .await;
    let cover = cover["id"].as_str().unwrap();
    let post = json!({"title": "Bucket news", "body": "Words.", "status": "published",
        "cover_upload_id": cover});
    app.new_post(&ann, post).await;
    app.drain_reactions().await;

    // The cover's copies, public and immutable, beside the pages.
    for (key, content_type) in [("480.webp", "image/webp"), ("600.jpg", "image/jpeg")] {
        let copy = s3
            .head_object()
            .bucket(&bucket)
            .key(format!("media/{cover}/{key}"));
        let copy = copy.send().await.expect("the cover's copy in the bucket");
        assert_eq!(copy.content_type(), Some(content_type));
        assert_eq!(
            copy.cache_control(),
            Some("public, max-age=31536000, immutable")
        );
    }

    let page = s3
        .get_object()
        .bucket(&bucket)
        .key("posts/bucket-news/index.html")
        .send()
        .await
        .expect("the post's page in the bucket");
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(
        page.cache_control(),
        Some("public, max-age=0, s-maxage=60, must-revalidate")
    );
    let html = page.body.collect().await.unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&html).contains("<h1>Bucket news</h1>"));
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    for key in [
        "index.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "404.html",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    let stylesheet = keys
        .iter()
        .find(|k| k.starts_with("assets/style."))
        .unwrap();
    let css = s3
        .head_object()
        .bucket(&bucket)
        .key(*stylesheet)
        .send()
        .await
        .unwrap();
    assert_eq!(
        css.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        app.get_public("/").await.status(),
        404,
        "CloudFront serves it"
    );

    // Deleting the post takes its page out of the bucket.
    let delete = app.request(
        reqwest::Method::DELETE,
        "/blog/posts/bucket-news",
        Some(&ann),
    );
    assert_eq!(delete.send().await.unwrap().status(), 204);
    app.drain_reactions().await;
    let gone = s3
        .head_object()
        .bucket(&bucket)
        .key("posts/bucket-news/index.html")
        .send()
        .await;
    assert!(gone.is_err(), "the page is gone");
    let copy = s3
        .head_object()
        .bucket(&bucket)
        .key(format!("media/{cover}/480.webp"));
    assert!(copy.send().await.is_err(), "the cover's copies are gone");
}
