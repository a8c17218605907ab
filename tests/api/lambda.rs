//! The binary as a Lambda function, under real Lambda tooling: `cargo lambda
//! watch` runs it behind an emulated runtime API and function URL, and
//! `cargo lambda invoke` sends it recorded events (`tests/fixtures/lambda/`).
//! They need cargo-lambda, which `./scripts/test` installs; the event-mode
//! tests also need moto (the function and the test share its table, bucket
//! and mail), so all are ignored by a plain `cargo test`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atrium::auth::LocalIssuer;
use atrium::config::Config;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{fresh_data_dir, spawn_app};
use crate::subscribers::mail_to;
use crate::uploads::png;

const NEEDS_CARGO_LAMBDA: &str = "run through ./scripts/test, which installs cargo-lambda";
const FUNCTION: &str = "atrium";

fn cargo_lambda() -> String {
    std::env::var("ATRIUM_TEST_CARGO_LAMBDA").expect(NEEDS_CARGO_LAMBDA)
}

/// The binary running as a function under `cargo lambda watch`, with the
/// environment a deployment would give it. Stopped (with the `cargo run`
/// and binary it started) when dropped.
struct Function {
    watch: Child,
    port: u16,
}

impl Function {
    async fn start(vars: &[(String, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(cargo_lambda());
        command
            .args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(port))
            .process_group(0);
        let function = Self {
            watch: command.spawn().expect(NEEDS_CARGO_LAMBDA),
            port,
        };
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return function;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cargo lambda watch did not listen on {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{FUNCTION}{path}", self.port)
    }

    /// `cargo lambda invoke` with `payload`; returns what the function answered.
    /// The Embedded Metric Format documents in the function's log, once
    /// there are at least `count` (within 10 s).
    async fn metric_documents(&self, count: usize) -> Vec<Value> {
        let mut documents = Vec::new();
        for _ in 0..100 {
            let log = std::fs::read_to_string(log_path(self.port)).unwrap_or_default();
            documents = log
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|line| line.get("_aws").is_some())
                .collect();
            if documents.len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        documents
    }

    fn invoke(&self, payload: &str) -> Value {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), payload).unwrap();
        let output = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string()])
            .args(["--output-format", "json", "--data-file"])
            .arg(file.path())
            .arg(FUNCTION)
            .output()
            .expect(NEEDS_CARGO_LAMBDA);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "invoke failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        // The whole process group: watch, `cargo run` and the function.
        let group = format!("-{}", self.watch.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.watch.wait();
    }
}

/// Where a function's output goes: `target/lambda-test-{port}.log`, kept
/// for reading when a test fails.
fn log_file(port: u16) -> Stdio {
    std::fs::File::create(log_path(port))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn log_path(port: u16) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lambda-{port}.log"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn fixture(name: &str, replacements: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lambda")
        .join(name);
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text
}

/// An HTTP function on the embedded default (its own data dir), and a way
/// to mint tokens it accepts.
struct HttpFunction {
    function: Function,
    issuer: LocalIssuer,
    config: Config,
    _dir: tempfile::TempDir,
}

impl HttpFunction {
    async fn start() -> Self {
        let dir = fresh_data_dir();
        let data_dir = dir.path().display().to_string();
        let vars = vec![("APP_DATA_DIR".to_string(), data_dir.clone())];
        let config =
            Config::from_lookup(|name| (name == "APP_DATA_DIR").then(|| data_dir.clone())).unwrap();
        Self {
            function: Function::start(&vars).await,
            issuer: LocalIssuer::load_or_create(dir.path()).unwrap(),
            config,
            _dir: dir,
        }
    }

    fn token(&self, user: &str) -> String {
        self.issuer
            .mint(&self.config.auth, user, &[], Duration::from_secs(600))
    }
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    let single = response["headers"][name].as_str();
    single.or_else(|| response["multiValueHeaders"][name][0].as_str())
}

fn body(response: &Value) -> Vec<u8> {
    let text = response["body"].as_str().unwrap_or_default();
    match response["isBase64Encoded"].as_bool() {
        Some(true) => BASE64.decode(text).expect("base64 body"),
        _ => text.as_bytes().to_vec(),
    }
}

fn body_json(response: &Value) -> Value {
    serde_json::from_slice(&body(response)).expect("a JSON body")
}

#[tokio::test]
#[ignore = "needs cargo-lambda: ./scripts/test"]
async fn the_api_works_through_a_function_url() {
    let lambda = HttpFunction::start().await;
    let client = reqwest::Client::new();
    let url = |path: &str| lambda.function.url(path);
    let (alice, bob) = (lambda.token("alice"), lambda.token("bob"));

    let health = client.get(url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let anonymous = client.get(url("/todos")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );

    let created = client
        .post(url("/todos"))
        .bearer_auth(&alice)
        .json(&json!({ "title": "Buy milk", "due": "2026-12-01T09:00:00Z" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let etag = created.headers()["etag"].clone();
    let todo: Value = created.json().await.unwrap();
    let path = format!("/todos/{}", todo["id"].as_str().unwrap());

    let read = client
        .get(url(&path))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], etag);

    // Sync works through Lambda; the event stream does not exist there
    // (Lambda hands back whole answers).
    let changes = client.get(url("/todos/changes")).bearer_auth(&alice).send();
    let changes: Value = changes.await.unwrap().json().await.unwrap();
    assert_eq!(changes["changes"][0]["id"], todo["id"]);
    let stream = client.get(url("/todos/events")).bearer_auth(&alice).send();
    assert_eq!(stream.await.unwrap().status(), 404);
    let listed: Value = client
        .get(url("/todos?limit=10"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["title"], "Buy milk");

    let done = client
        .patch(url(&path))
        .bearer_auth(&alice)
        .header("if-match", &etag)
        .json(&json!({ "completed": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let stale = client
        .patch(url(&path))
        .bearer_auth(&alice)
        .header("if-match", &etag)
        .json(&json!({ "title": "Buy oat milk" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);

    let foreign = client
        .get(url(&path))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    let malformed = client
        .post(url("/todos"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let oversized = client
        .post(url("/todos"))
        .bearer_auth(&alice)
        .json(&json!({ "title": "big", "notes": "x".repeat(300 * 1024) }))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    assert_eq!(
        oversized.headers()["content-type"],
        "application/problem+json"
    );

    // A binary body comes back byte for byte (base64 inside the event).
    let icon = client
        .get(url("/docs/favicon-32x32.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    let icon = icon.bytes().await.unwrap();
    assert!(icon.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let deleted = client
        .delete(url(&path))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
#[ignore = "needs cargo-lambda: ./scripts/test"]
async fn recorded_api_gateway_and_alb_events_reach_the_same_routes() {
    let lambda = HttpFunction::start().await;
    let token = lambda.token("carol");

    // REST API (v1) with a stage: path without it, requestContext.path with.
    let posts = lambda.function.invoke(&fixture("apigw-v1-stage.json", &[]));
    assert_eq!(posts["statusCode"], 200, "{posts}");
    assert!(
        header(&posts, "cache-control").is_some_and(|v| v.starts_with("public")),
        "{posts}"
    );
    assert_eq!(body_json(&posts)["items"], json!([]));

    // HTTP API (v2), stage in rawPath, base64 body: created, and Location
    // keeps the client's `/prod` prefix.
    let created = lambda.function.invoke(&fixture(
        "apigw-v2-stage-in-path.json",
        &[("{{TOKEN}}", &token)],
    ));
    assert_eq!(created["statusCode"], 201, "{created}");
    let todo = body_json(&created);
    assert_eq!(todo["title"], "From a v2 event");
    let id = todo["id"].as_str().unwrap();
    assert_eq!(
        header(&created, "location"),
        Some(format!("/prod/todos/{id}").as_str())
    );

    // ALB with multi-value headers: the todo is there, headers come back
    // in both shapes.
    let listed = lambda
        .function
        .invoke(&fixture("alb.json", &[("{{TOKEN}}", &token)]));
    assert_eq!(listed["statusCode"], 200, "{listed}");
    assert_eq!(body_json(&listed)["items"][0]["id"], id);
    assert_eq!(
        listed["multiValueHeaders"]["content-type"][0],
        "application/json"
    );

    // The same ALB event without a token: 401 problem+json, not a crash.
    let anonymous = lambda
        .function
        .invoke(&fixture("alb.json", &[("Bearer {{TOKEN}}", "")]));
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    assert_eq!(body_json(&anonymous)["status"], 401);

    // A function URL event for a binary file: base64-encoded, intact.
    let icon = lambda
        .function
        .invoke(&fixture("function-url-binary.json", &[]));
    assert_eq!(icon["statusCode"], 200, "{icon}");
    assert_eq!(icon["isBase64Encoded"], true);
    assert!(body(&icon).starts_with(b"\x89PNG\r\n\x1a\n"));
}

/// The environment of an events function sharing `app`'s AWS resources.
fn events_vars(app: &crate::helpers::TestApp) -> Vec<(String, String)> {
    let aws = app.aws.as_ref().expect("needs moto: ./scripts/test");
    let mut vars = aws.vars();
    vars.push(("APP_LAMBDA_HANDLER".into(), "events".into()));
    vars.push(("APP_PUBLIC_URL".into(), app.config.public_url.clone()));
    vars.push((
        "APP_DATA_DIR".into(),
        app.config.data_dir.display().to_string(),
    ));
    vars
}

#[tokio::test]
#[ignore = "needs cargo-lambda and moto: ./scripts/test"]
async fn a_stream_batch_with_a_poison_record_reports_only_that_record() {
    let app = spawn_app().await;
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let (first, second) = (
        format!("first-{suffix}@example.com"),
        format!("second-{suffix}@example.com"),
    );
    for email in [&first, &second] {
        assert_eq!(app.subscribe(email).await.status(), StatusCode::ACCEPTED);
    }
    let lambda = Function::start(&events_vars(&app)).await;
    let with = [
        ("{{FIRST}}", first.as_str()),
        ("{{SECOND}}", second.as_str()),
    ];

    let answer = lambda.invoke(&fixture("dynamodb-batch-with-poison.json", &with));
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [{ "itemIdentifier": "200000000000000000002" }] })
    );
    assert_eq!(
        mail_to(&app, &first).await.len(),
        1,
        "the record before the poison"
    );
    assert!(
        mail_to(&app, &second).await.is_empty(),
        "held back for the retry"
    );

    // Lambda's retry starts at the poison record's successor once the poison
    // is sent to the on-failure destination; the first is not welcomed twice.
    let retried = lambda.invoke(&fixture("dynamodb-batch-retried.json", &with));
    assert_eq!(retried, json!({ "batchItemFailures": [] }));
    let again = lambda.invoke(&fixture("dynamodb-batch-retried.json", &with));
    assert_eq!(again, json!({ "batchItemFailures": [] }));
    assert_eq!(mail_to(&app, &second).await.len(), 1);
    assert_eq!(mail_to(&app, &first).await.len(), 1);

    // One metric document per invocation: what it did, for CloudWatch.
    let documents = lambda.metric_documents(3).await;
    assert_eq!(documents.len(), 3, "{documents:#?}");
    documents.iter().for_each(assert_embedded_metric_format);
    let sum = |name: &str| {
        documents
            .iter()
            .map(|d| d[name].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum("EmailsSent"), 2, "one welcome each: {documents:#?}");
    assert_eq!(documents[0]["EventsFailed"], 1, "the poison record");
    assert_eq!(
        documents[0]["EventsHandled"], 2,
        "the first record and the poison"
    );
    assert_eq!(sum("EventsFailed"), 1);
}

#[tokio::test]
#[ignore = "needs cargo-lambda and moto: ./scripts/test"]
async fn an_s3_event_with_an_encoded_key_completes_the_upload() {
    let app = spawn_app().await;
    let token = app.token("dana").await;
    let image = png(1400, 1050);
    let request = json!({
        "filename": "summer holiday 2026.png",
        "content_type": "image/png",
        "size": image.len(),
    });
    let ticket = app.upload_ticket(&token, request).await;
    assert!(app.send_upload(&ticket, image).await.status().is_success());

    let aws = app.aws.as_ref().unwrap();
    let url = reqwest::Url::parse(ticket["url"].as_str().unwrap()).unwrap();
    let key = url
        .path()
        .strip_prefix(&format!("/{}/", aws.bucket))
        .unwrap();
    assert!(key.ends_with("summer%20holiday%202026.png"), "{key}");
    let s3_encoded = key.replace("%20", "+");
    let lambda = Function::start(&events_vars(&app)).await;
    let answer = lambda.invoke(&fixture(
        "s3-object-created.json",
        &[("{{BUCKET}}", &aws.bucket), ("{{KEY}}", &s3_encoded)],
    ));
    assert_eq!(answer, json!({}));

    let upload = app
        .settled_upload(&token, ticket["id"].as_str().unwrap())
        .await;
    assert_eq!(upload["status"], "ready", "{upload}");
    assert_eq!(
        upload["thumbnails"].as_array().unwrap().len(),
        2,
        "{upload}"
    );
    let documents = lambda.metric_documents(1).await;
    assert_embedded_metric_format(&documents[0]);
    assert_eq!(documents[0]["ThumbnailsMade"], 2, "{documents:#?}");
    assert_eq!(documents[0]["EventsHandled"], 1);
}

#[tokio::test]
#[ignore = "needs cargo-lambda: ./scripts/test"]
async fn an_event_the_dispatcher_does_not_know_is_a_function_error() {
    let dir = fresh_data_dir();
    let vars = [
        ("APP_LAMBDA_HANDLER".to_string(), "events".to_string()),
        ("APP_DATA_DIR".to_string(), dir.path().display().to_string()),
    ];
    let lambda = Function::start(&vars).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"Records": [{"eventSource": "aws:sqs"}]}"#).unwrap();
    let output = Command::new(cargo_lambda())
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &lambda.port.to_string(), "--data-file"])
        .arg(file.path())
        .arg(FUNCTION)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{printed}");
    assert!(printed.contains("unexpected event source"), "{printed}");
}

#[tokio::test]
#[ignore = "needs cargo-lambda: ./scripts/test"]
async fn each_request_leaves_an_embedded_metric_document_in_the_log() {
    let lambda = HttpFunction::start().await;
    let client = reqwest::Client::new();
    let url = |path: &str| lambda.function.url(path);
    let alice = lambda.token("alice");
    let created: Value = client
        .post(url("/todos"))
        .bearer_auth(&alice)
        .json(&json!({ "title": "counted" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/todos/{}", created["id"].as_str().unwrap());
    for _ in 0..2 {
        let read = client
            .get(url(&path))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
    }
    assert_eq!(
        client.get(url("/todos")).send().await.unwrap().status(),
        401
    );

    let documents = lambda.function.metric_documents(4).await;
    for document in &documents {
        assert_embedded_metric_format(document);
    }
    let seen = |route: &str, status: &str| {
        documents
            .iter()
            .any(|d| d["Route"] == route && d["Status"] == status)
    };
    assert!(seen("POST /todos", "201"), "{documents:#?}");
    assert!(
        seen("GET /todos/{id}", "200"),
        "the route template, not the path"
    );
    assert!(seen("GET /todos", "401"));
    let hits: u64 = documents
        .iter()
        .map(|d| d["CacheHits"].as_u64().unwrap() + d["ResponseCacheHits"].as_u64().unwrap())
        .sum();
    assert!(hits >= 1, "the second read came from memory");
}

/// Checks a document against the members the Embedded Metric Format
/// specification requires: `_aws` with a millisecond `Timestamp` and
/// `CloudWatchMetrics` directives, each with a `Namespace`, dimension sets
/// of at most 30 names whose values are strings at the root, and metrics
/// whose values are numbers at the root, with a known unit.
fn assert_embedded_metric_format(document: &Value) {
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let aws = document["_aws"].as_object().expect("an _aws object");
    let timestamp = aws["Timestamp"]
        .as_u64()
        .expect("a Timestamp in milliseconds");
    assert!(
        timestamp > 1_600_000_000_000,
        "milliseconds since the epoch"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("a Namespace");
        assert!((1..=255).contains(&namespace.len()));
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let names = set.as_array().expect("a dimension set");
            assert!(names.len() <= 30);
            for name in names {
                let name = name.as_str().expect("a dimension name");
                assert!(document[name].is_string(), "dimension {name} at the root");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!((1..=100).contains(&metrics.len()));
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric Name");
            assert!(document[name].is_number(), "metric {name} at the root");
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "unit {unit}");
            }
        }
    }
}
