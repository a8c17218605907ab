//! `spawn_app()`, `TestApp::builder()` and `TestApp`: one method per
//! endpoint, so tests read as what a client does, and `drain_reactions()`,
//! so a test waits for exactly the background work it caused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use atrium::app::{Application, Backends, Workers};
use atrium::auth::LocalIssuer;
use atrium::config::Config;
use atrium::runtime::Server;
use axum::Router;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

mod endpoints;
pub use endpoints::Replica;
pub mod faults;
pub mod load;

use crate::emulator::{AwsFixture, moto_url};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub config: Config,
    /// The service under test, for its backends and reactions.
    pub app: Application,
    /// Its workers, for [`TestApp::drain_reactions`] (none once stopped).
    workers: Option<Workers>,
    pub issuer: LocalIssuer,
    /// The emulated AWS resources, when the suite runs against moto.
    pub aws: Option<AwsFixture>,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

/// A data directory holding the signing key every test shares (RSA key
/// generation is the slowest part of a start; reusing it changes nothing a
/// test looks at).
pub fn fresh_data_dir() -> tempfile::TempDir {
    static SHARED_KEY: OnceLock<PathBuf> = OnceLock::new();
    let shared = SHARED_KEY.get_or_init(shared_key_dir);
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&shared.join("keys"), &dir.path().join("keys"));
    dir
}

/// One key for every test process of this build (nextest runs each test in
/// a process of its own), under `target/tmp`. Made aside and renamed into
/// place, so processes starting together never read a half-written key:
/// the first rename wins and the others use its key.
fn shared_key_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("atrium-test-key");
    if !dir.join("keys").exists() {
        let aside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        LocalIssuer::load_or_create(aside.path()).expect("signing key");
        let aside = aside.keep();
        if std::fs::rename(&aside, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// How a test's service starts: extra environment, extra routes.
#[derive(Default)]
pub struct TestAppBuilder {
    vars: Vec<(String, String)>,
    routes: Option<Box<dyn FnOnce(Router) -> Router>>,
}

impl TestAppBuilder {
    /// Sets one environment variable of the service's configuration.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Adds routes inside the real middleware stack.
    pub fn with_routes(mut self, extend: impl FnOnce(Router) -> Router + 'static) -> Self {
        self.routes = Some(Box::new(extend));
        self
    }

    /// Starts the service as the binary does (router and workers) on a
    /// random port with a fresh data directory. Against moto (see
    /// [`crate::emulator`]) it gets fresh AWS resources; `with_env` overrides
    /// either way.
    pub async fn spawn(self) -> TestApp {
        let aws = match moto_url() {
            Some(url) => Some(AwsFixture::create(&url).await),
            None => None,
        };
        let dir = fresh_data_dir();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut env: HashMap<String, String> = HashMap::from([
            ("APP_DATA_DIR".into(), dir.path().display().to_string()),
            ("APP_ADDR".into(), addr.to_string()),
            // Budgets no test reaches but every request is counted against
            // (tests/api/throttle.rs sets real ones).
            ("APP_THROTTLE_READS".into(), "100000".into()),
            ("APP_THROTTLE_WRITES".into(), "100000".into()),
            ("APP_THROTTLE_PUBLIC".into(), "100000".into()),
        ]);
        env.extend(aws.iter().flat_map(AwsFixture::vars));
        env.extend(self.vars);
        let config = Config::from_lookup(|name| env.get(name).cloned()).expect("test config");
        let app = Application::build(config.clone()).await.expect("app");
        let workers = app.start_workers();
        let router = match self.routes {
            Some(extend) => app.router_with(extend),
            None => app.router(),
        };
        let server =
            Server::on(listener, router, Duration::from_secs(5)).with_limits((&config).into());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stop_rx.await;
        }));
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("issuer");
        TestApp {
            addr,
            client: reqwest::Client::new(),
            config,
            app,
            workers: Some(workers),
            issuer,
            aws,
            _dir: dir,
            shutdown: Some(stop_tx),
        }
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub fn backends(&self) -> &Backends {
        self.app.backends()
    }

    /// Runs every reaction the requests so far caused, to completion: the
    /// local workers' feeds, or, against moto, the table's DynamoDB Stream
    /// records handed to the Lambda event mode's dispatcher as Lambda
    /// would. Returns how many changes or events were handled.
    pub async fn drain_reactions(&self) -> usize {
        let handled = match &self.workers {
            Some(workers) => workers.drain().await,
            None => 0,
        };
        let Some(aws) = &self.aws else {
            return handled;
        };
        let event = aws.stream_event().await;
        let records = event["Records"].as_array().map_or(0, Vec::len);
        let answer = atrium::runtime::events::dispatch(self.app.reactions(), &event)
            .await
            .expect("the stream batch is handled");
        assert_eq!(
            answer["batchItemFailures"],
            json!([]),
            "stream records failed"
        );
        handled + records
    }

    /// Shuts the workers down, as the binary does on SIGTERM.
    pub async fn stop_workers(&mut self) {
        if let Some(workers) = self.workers.take() {
            workers.shutdown(Duration::from_secs(5)).await;
        }
    }

    /// Starts the workers again, as the next process on this data would.
    pub fn start_workers(&mut self) {
        assert!(self.workers.is_none(), "stop the workers first");
        self.workers = Some(self.app.start_workers());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A valid access token for `user`.
    pub async fn token(&self, user: &str) -> String {
        self.token_in(user, &[]).await
    }

    /// A valid access token for `user` in `groups`: from Cognito (moto) when
    /// the service verifies Cognito's tokens, else from the local issuer.
    pub async fn token_in(&self, user: &str, groups: &[&str]) -> String {
        let cognito = self.aws.as_ref().map(|aws| &aws.cognito);
        if let Some(pool) = cognito.filter(|_| self.config.auth.jwks_url.is_some()) {
            return pool.token(user, groups).await;
        }
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.issuer
            .mint(&self.config.auth, user, &groups, Duration::from_secs(600))
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_public(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).send().await.unwrap()
    }

    /// A counter from this instance's `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.get_public("/metrics").await.text().await.unwrap();
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }
}

/// Asserts a problem+json answer with `status`; returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// The field names a 422 complains about.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
