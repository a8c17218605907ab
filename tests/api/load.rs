//! Under load and under faults: many connections and users, reads and writes
//! mixed (see `helpers::load`), then every acknowledged write read back; and
//! the same with the network to DynamoDB failing (see `helpers::faults`).
//!
//! Bounded in count and time, on loopback. They print their figures
//! (`--no-capture`); `./scripts/load` runs them longer on a release build.
//! `.config/nextest.toml` runs each alone, so no other test shares the
//! cores with it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::emulator::moto_url;
use crate::helpers::TestApp;
use crate::helpers::faults::{Fault, FaultProxy};
use crate::helpers::load::{self, Tally, User, Verified, Workload};

/// The deadline the service states for every answer: its request timeout
/// (answered 503 with `Retry-After`), plus a little for the scheduler.
const REQUEST_TIMEOUT: &str = "5s";
const DEADLINE: Duration = Duration::from_secs(7);

/// Users with tokens from the local issuer (minting 1,000 Cognito users on
/// moto would take longer than the run).
async fn users(app: &TestApp, count: usize) -> Vec<User> {
    (0..count)
        .map(|n| {
            let name = format!("load-user-{n}");
            let token = app
                .issuer
                .mint(&app.config.auth, &name, &[], Duration::from_secs(3600));
            User::new(name, token)
        })
        .collect()
}

/// The service on the local issuer's tokens, against moto through `proxy`
/// when the suite runs there.
async fn spawn(proxy: Option<&FaultProxy>) -> TestApp {
    let mut builder = TestApp::builder()
        .with_env("APP_REQUEST_TIMEOUT", REQUEST_TIMEOUT)
        .with_env("APP_COGNITO_USER_POOL_ID", "")
        .with_env("APP_COGNITO_CLIENT_IDS", "")
        .with_env("APP_JWKS_URL", "");
    if let Some(proxy) = proxy {
        builder = builder.with_env("AWS_ENDPOINT_URL", &proxy.url());
    }
    builder.spawn().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_connections_lose_no_acknowledged_write() {
    let app = spawn(None).await;
    let workload = Workload::from_env(500, 30, 15, DEADLINE);
    let users = users(&app, workload.connections * workload.users_per_connection).await;
    let base = app.url("");

    let (tally, mut users) = load::run(base.clone(), workload, users).await;
    let verified = load::verify(&base, &mut users, Duration::from_secs(30)).await;
    println!("load, {} connections: {tally}", workload.connections);
    println!("read back: {verified:?}");

    assert!(tally.acknowledged_writes > 0, "{tally}");
    assert_nothing_went_wrong(&tally, &verified);
}

/// Every answer expected and in time, every read as the client's own writes
/// say, every acknowledged write there, nothing else.
fn assert_nothing_went_wrong(tally: &Tally, verified: &Verified) {
    assert_eq!(
        (tally.unexpected, tally.late, tally.stale_reads),
        (0, 0, 0),
        "{}",
        tally.problems()
    );
    assert_eq!((verified.lost, verified.phantoms), (0, 0), "{verified:?}");
}

/// What the service answered while one fault lasted.
struct Phase {
    fault: Fault,
    /// `/readyz` in the middle of the fault.
    ready_status: u16,
    /// From the end of the fault to the first `/readyz` 200 and the first
    /// acknowledged write.
    recovered_in: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: ./scripts/test"]
async fn dynamodb_refused_hung_or_slow_is_answered_in_time_and_heals() {
    let moto = moto_url().expect("ATRIUM_TEST_MOTO");
    let target = moto.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    let app = spawn(Some(&proxy)).await;
    let faults = [
        Fault::Refuse,
        Fault::Hang,
        Fault::Slow(Duration::from_millis(200)),
    ];
    let (calm, faulty) = (Duration::from_secs(3), Duration::from_secs(6));
    let mut workload = Workload::from_env(50, 10, 0, DEADLINE);
    workload.duration = (calm + faulty) * faults.len() as u32 + calm;
    let users = users(&app, workload.connections * workload.users_per_connection).await;
    let base = app.url("");

    let driver = tokio::spawn(load::run(base.clone(), workload, users));
    let mut phases = Vec::new();
    for fault in faults {
        tokio::time::sleep(calm).await;
        proxy.set(fault);
        tokio::time::sleep(faulty / 2).await;
        let ready_status = app.get_public("/readyz").await.status().as_u16();
        tokio::time::sleep(faulty / 2).await;
        proxy.set(Fault::None);
        let recovered_in = recovery(&app).await;
        phases.push(Phase {
            fault,
            ready_status,
            recovered_in,
        });
    }
    let (tally, mut users) = driver.await.unwrap();
    let verified = load::verify(&base, &mut users, Duration::from_secs(60)).await;
    println!("faults, {} connections: {tally}", workload.connections);
    for Phase {
        fault,
        ready_status,
        recovered_in,
    } in &phases
    {
        println!("{fault:?}: /readyz {ready_status} meanwhile; healed in {recovered_in:?}");
    }
    println!("read back: {verified:?}");

    assert_nothing_went_wrong(&tally, &verified);
    // Not ready while DynamoDB is refused or hung. While it is slow the
    // answer depends on how far behind moto (serial, see
    // scripts/moto-server.py) has fallen, so it is only printed.
    let statuses: Vec<_> = phases.iter().map(|p| p.ready_status).collect();
    assert_eq!(statuses[..2], [503, 503], "/readyz during refused, hung");
    assert!(tally.statuses.get(&503).is_some_and(|n| *n > 0), "{tally}");
}

/// Waits (a bounded time) for `/readyz` to answer 200 and a write to be
/// acknowledged again, without a restart.
async fn recovery(app: &TestApp) -> Duration {
    let healed = Instant::now();
    let token = app
        .issuer
        .mint(&app.config.auth, "recovery", &[], Duration::from_secs(600));
    loop {
        assert!(
            healed.elapsed() < Duration::from_secs(30),
            "no recovery in 30 s"
        );
        let ready = app.get_public("/readyz").await.status() == 200;
        let write = app
            .request(Method::POST, "/todos", Some(&token))
            .json(&json!({ "title": "after the fault" }))
            .send()
            .await
            .is_ok_and(|r| r.status() == 201);
        if ready && write {
            return healed.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A write that reached DynamoDB, whose answer never came back: the
/// client gets 503 with `Retry-After` when the request deadline passes, and
/// afterwards the service shows what DynamoDB has, not what its cache held.
#[tokio::test]
#[ignore = "needs moto: ./scripts/test"]
async fn a_write_whose_answer_was_lost_is_not_hidden_by_the_cache() {
    let moto = moto_url().expect("ATRIUM_TEST_MOTO");
    let proxy = FaultProxy::start(moto.trim_start_matches("http://").parse().unwrap()).await;
    let app = TestApp::builder()
        .with_env("AWS_ENDPOINT_URL", &proxy.url())
        .with_env("APP_REQUEST_TIMEOUT", "2s")
        .spawn()
        .await;
    let token = app.token("alice").await;
    let titles = || async {
        let list: serde_json::Value = app.get("/todos", &token).await.json().await.unwrap();
        let items = list["items"].as_array().unwrap().iter();
        items
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // A first write leaves the user's change counter in the cache, so the
    // write below sends its transaction first thing.
    app.new_todo_id(&token, "before").await;
    assert_eq!(titles().await, ["before"], "a list, now cached");

    proxy.set(Fault::LoseAnswers);
    let create = app
        .request(Method::POST, "/todos", Some(&token))
        .json(&json!({ "title": "answer lost" }))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 503);
    assert!(create.headers().contains_key("retry-after"));
    proxy.set(Fault::None);

    assert_eq!(titles().await, ["before", "answer lost"]);
}
