//! A load driver for the todo API: many connections, many users, reads and
//! writes mixed, every answer classified, and afterwards every acknowledged
//! write read back.
//!
//! Each connection is one sequential client that owns a few users outright,
//! so after every answer it knows what each of its users' todos must look
//! like (its model), and any read that disagrees is counted. A write without
//! a clear answer (a 503, a cut connection) is *in doubt*: a create is sent
//! again with its `Idempotency-Key` until it gets one; an update or delete is
//! settled by reading the todo the next time it is needed, and must show
//! the change applied whole or not at all.
//!
//! Answers a client must be ready for are 2xx, 3xx, 429, and 503 with
//! `Retry-After`; anything else, a cut connection, or an answer later than
//! the deadline is *unexpected*, and the tests want none.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub connections: usize,
    pub users_per_connection: usize,
    /// Of every 100 steps, how many write: half of them create, a third
    /// update, the rest delete. The others read one todo (two in three) or
    /// the first page of the list.
    pub writes_percent: u64,
    pub duration: Duration,
    /// Every answer must arrive within this.
    pub deadline: Duration,
}

impl Workload {
    /// `connections` and `seconds`, unless `ATRIUM_LOAD_CONNECTIONS` or
    /// `ATRIUM_LOAD_SECONDS` say otherwise (`./scripts/load` runs longer).
    pub fn from_env(
        connections: usize,
        writes_percent: u64,
        seconds: u64,
        deadline: Duration,
    ) -> Self {
        let read = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            connections: read("ATRIUM_LOAD_CONNECTIONS", connections as u64) as usize,
            users_per_connection: 2,
            writes_percent,
            duration: Duration::from_secs(read("ATRIUM_LOAD_SECONDS", seconds)),
            deadline,
        }
    }
}

/// One user's todos as their client knows them.
pub struct User {
    pub name: String,
    pub token: String,
    todos: BTreeMap<String, Known>,
    /// A create that has not had its answer yet: key and title.
    pending_create: Option<(String, String)>,
    created: u32,
}

impl User {
    pub fn new(name: String, token: String) -> Self {
        Self {
            name,
            token,
            todos: BTreeMap::new(),
            pending_create: None,
            created: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct TodoState {
    title: String,
    completed: bool,
    version: u64,
}

impl TodoState {
    fn of(body: &Value) -> Option<Self> {
        Some(Self {
            title: body["title"].as_str()?.to_string(),
            completed: body["completed"].as_bool()?,
            version: body["version"].as_u64()?,
        })
    }
}

#[derive(Clone, Debug)]
enum Known {
    Exact(TodoState),
    /// A write without an answer: it happened whole (`after`; `None` for a
    /// delete) or not at all (`before`).
    InDoubt {
        before: TodoState,
        after: Option<TodoState>,
    },
}

/// What the clients saw.
#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    pub late: u64,
    pub unexpected: u64,
    /// The first few unexpected answers and disagreeing reads, described.
    pub examples: Vec<String>,
    pub acknowledged_writes: u64,
    pub writes_in_doubt: u64,
    /// Reads that disagreed with what the client's acknowledged writes say.
    pub stale_reads: u64,
    pub elapsed: Duration,
}

impl Tally {
    fn note(&mut self, example: String) {
        if self.examples.len() < 12 {
            self.examples.push(example);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.latencies_us.extend(other.latencies_us);
        self.late += other.late;
        self.unexpected += other.unexpected;
        for example in other.examples {
            self.note(example);
        }
        self.acknowledged_writes += other.acknowledged_writes;
        self.writes_in_doubt += other.writes_in_doubt;
        self.stale_reads += other.stale_reads;
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies_us.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        Duration::from_micros(u64::from(self.latencies_us[rank]))
    }

    /// Everything a test asserts is zero, described for its failure message.
    pub fn problems(&self) -> String {
        format!(
            "unexpected {}, late {}, stale reads {}: {:#?}",
            self.unexpected, self.late, self.stale_reads, self.examples
        )
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        write!(
            f,
            "{} requests in {:.1} s ({:.0}/s); latency p50 {:?}, p99 {:?}, max {:?}; \
             statuses {:?}; writes acknowledged {}, in doubt {}; \
             unexpected {}, late {}, stale reads {}",
            self.requests,
            seconds,
            self.requests as f64 / seconds,
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(1.0),
            self.statuses,
            self.acknowledged_writes,
            self.writes_in_doubt,
            self.unexpected,
            self.late,
            self.stale_reads,
        )
    }
}

/// An answer, classified.
enum Answer {
    /// A final answer: status, body, in time.
    Final(StatusCode, Value),
    /// 429 or 503 with `Retry-After`: try again after that long.
    Later(Duration),
    /// Anything else (already counted as unexpected).
    Broken,
}

/// One connection's client.
struct Client {
    http: reqwest::Client,
    base: String,
    deadline: Duration,
    tally: Tally,
}

impl Client {
    fn new(base: &str, deadline: Duration) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(deadline + Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            http,
            base: base.into(),
            deadline,
            tally: Tally::default(),
        }
    }

    /// Sends one request; `also_final` are error statuses this request may
    /// expect (a 404 when settling a delete).
    async fn send(
        &mut self,
        user: &User,
        (method, path): (Method, &str),
        headers: &[(&str, String)],
        body: Option<Value>,
        also_final: &[u16],
    ) -> Answer {
        let what = format!("{method} {path}");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&user.token);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let started = Instant::now();
        let result = request.send().await;
        let answer = match result {
            Ok(response) => self.classify(&what, response, also_final).await,
            Err(error) => {
                self.unexpected(format!("{what}: {error}"));
                Answer::Broken
            }
        };
        let elapsed = started.elapsed();
        self.tally.requests += 1;
        self.tally
            .latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if elapsed > self.deadline {
            self.tally.late += 1;
            self.tally
                .note(format!("{what}: answered after {elapsed:?}"));
        }
        if let Answer::Later(wait) = answer {
            // As a polite client does (capped: the run is short).
            tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
        }
        answer
    }

    async fn classify(
        &mut self,
        what: &str,
        response: reqwest::Response,
        also_final: &[u16],
    ) -> Answer {
        let status = response.status();
        *self.tally.statuses.entry(status.as_u16()).or_default() += 1;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let body = response.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match status.as_u16() {
            200..=399 => Answer::Final(status, body),
            code if also_final.contains(&code) => Answer::Final(status, body),
            429 | 503 if let Some(secs) = retry_after => Answer::Later(Duration::from_secs(secs)),
            _ => {
                self.unexpected(format!("{what}: {status} {body}"));
                Answer::Broken
            }
        }
    }

    fn unexpected(&mut self, example: String) {
        self.tally.unexpected += 1;
        self.tally.note(example);
    }

    fn stale(&mut self, example: String) {
        self.tally.stale_reads += 1;
        self.tally.note(example);
    }

    /// Sends the user's pending create until it has an answer; true once
    /// it has.
    async fn finish_create(&mut self, user: &mut User) -> bool {
        let Some((key, title)) = user.pending_create.clone() else {
            return true;
        };
        let headers = [("idempotency-key", key)];
        let body = json!({ "title": title });
        let answer = self
            .send(user, (Method::POST, "/todos"), &headers, Some(body), &[])
            .await;
        let Answer::Final(status, body) = answer else {
            return false;
        };
        match (status, TodoState::of(&body), body["id"].as_str()) {
            (StatusCode::CREATED, Some(state), Some(id)) if state.title == title => {
                self.tally.acknowledged_writes += 1;
                user.todos.insert(id.to_string(), Known::Exact(state));
            }
            _ => self.unexpected(format!("POST /todos answered {status} {body}")),
        }
        user.pending_create = None;
        true
    }

    async fn create(&mut self, user: &mut User) {
        user.created += 1;
        let key = format!("{}-{}", user.name, user.created);
        let title = format!("todo {key}");
        user.pending_create = Some((key, title));
        if !self.finish_create(user).await {
            self.tally.writes_in_doubt += 1;
        }
    }

    /// Reads one todo; settles it if it was in doubt.
    async fn read(&mut self, user: &mut User, id: &str) {
        let path = format!("/todos/{id}");
        let answer = self
            .send(user, (Method::GET, &path), &[], None, &[404])
            .await;
        let Answer::Final(status, body) = answer else {
            return;
        };
        // 404 is what a todo whose delete happened answers.
        let seen = (status == StatusCode::OK)
            .then(|| TodoState::of(&body))
            .flatten();
        match user.todos[id].clone() {
            Known::Exact(expected) if seen.as_ref() == Some(&expected) => {}
            Known::InDoubt { before, after } if seen == after || seen.as_ref() == Some(&before) => {
                match seen {
                    Some(state) => user.todos.insert(id.into(), Known::Exact(state)),
                    None => user.todos.remove(id),
                };
            }
            known => self.stale(format!(
                "GET {path}: expected {known:?}, saw {status} {body}"
            )),
        }
    }

    async fn update(&mut self, user: &mut User, id: &str) {
        let Known::Exact(before) = user.todos[id].clone() else {
            return self.read(user, id).await;
        };
        let after = TodoState {
            title: format!("{} v{}", user.name, before.version + 1),
            completed: !before.completed,
            version: before.version + 1,
        };
        let path = format!("/todos/{id}");
        let headers = [("if-match", format!("\"v{}\"", before.version))];
        let body = json!({ "title": after.title, "completed": after.completed });
        match self
            .send(user, (Method::PATCH, &path), &headers, Some(body), &[])
            .await
        {
            Answer::Final(StatusCode::OK, body)
                if TodoState::of(&body).as_ref() == Some(&after) =>
            {
                self.tally.acknowledged_writes += 1;
                user.todos.insert(id.into(), Known::Exact(after));
            }
            Answer::Final(status, body) => {
                self.unexpected(format!("PATCH {path}: {status} {body}"))
            }
            Answer::Later(_) | Answer::Broken => {
                self.tally.writes_in_doubt += 1;
                let after = Some(after);
                user.todos
                    .insert(id.into(), Known::InDoubt { before, after });
            }
        }
    }

    async fn delete(&mut self, user: &mut User, id: &str) {
        let Known::Exact(before) = user.todos[id].clone() else {
            return self.read(user, id).await;
        };
        let path = format!("/todos/{id}");
        let headers = [("if-match", format!("\"v{}\"", before.version))];
        match self
            .send(user, (Method::DELETE, &path), &headers, None, &[])
            .await
        {
            Answer::Final(StatusCode::NO_CONTENT, _) => {
                self.tally.acknowledged_writes += 1;
                user.todos.remove(id);
            }
            Answer::Final(status, body) => {
                self.unexpected(format!("DELETE {path}: {status} {body}"))
            }
            Answer::Later(_) | Answer::Broken => {
                self.tally.writes_in_doubt += 1;
                let after = None;
                user.todos
                    .insert(id.into(), Known::InDoubt { before, after });
            }
        }
    }

    /// The first page of the list must be exactly what the client knows,
    /// when it knows everything.
    async fn list(&mut self, user: &mut User) {
        let answer = self
            .send(user, (Method::GET, "/todos?limit=100"), &[], None, &[])
            .await;
        let Answer::Final(_, body) = answer else {
            return;
        };
        let certain = user.pending_create.is_none()
            && user.todos.values().all(|k| matches!(k, Known::Exact(_)));
        if !certain {
            return;
        }
        let (lost, phantoms) = differences(&exact(user), &listed(&body));
        if !lost.is_empty() || !phantoms.is_empty() {
            let name = &user.name;
            self.stale(format!(
                "GET /todos for {name}: lost {lost:?}, extra {phantoms:?}"
            ));
        }
    }

    /// One step of the mix for `user` (see [`Workload::writes_percent`];
    /// create while the user has no todo, delete while they have 40).
    async fn step(&mut self, user: &mut User, roll: u64, writes_percent: u64) {
        if !self.finish_create(user).await {
            return;
        }
        let count = user.todos.len();
        let Some(id) = user
            .todos
            .keys()
            .nth((roll / 100) as usize % count.max(1))
            .cloned()
        else {
            return self.create(user).await;
        };
        let (kind, which) = ((roll >> 8) % 100, (roll >> 16) % 6);
        match (kind < writes_percent, which) {
            _ if count >= 40 => self.delete(user, &id).await,
            (true, 0..3) => self.create(user).await,
            (true, 3..5) => self.update(user, &id).await,
            (true, _) => self.delete(user, &id).await,
            (false, 0..4) => self.read(user, &id).await,
            (false, _) => self.list(user).await,
        }
    }
}

fn listed(body: &Value) -> BTreeMap<String, TodoState> {
    body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| Some((item["id"].as_str()?.to_string(), TodoState::of(item)?)))
        .collect()
}

fn exact(user: &User) -> BTreeMap<String, TodoState> {
    user.todos
        .iter()
        .filter_map(|(id, known)| match known {
            Known::Exact(state) => Some((id.clone(), state.clone())),
            Known::InDoubt { .. } => None,
        })
        .collect()
}

/// Where `seen` differs from `expected`, described: todos lost or not as
/// expected, and todos nobody made.
fn differences(
    expected: &BTreeMap<String, TodoState>,
    seen: &BTreeMap<String, TodoState>,
) -> (Vec<String>, Vec<String>) {
    let lost = expected
        .iter()
        .filter(|(id, state)| seen.get(*id) != Some(state))
        .map(|(id, state)| format!("{id}: {state:?} is {:?}", seen.get(id)))
        .collect();
    let phantoms = seen
        .keys()
        .filter(|id| !expected.contains_key(*id))
        .cloned()
        .collect();
    (lost, phantoms)
}

/// A small, fast, seeded generator: runs are repeatable in their mix.
struct Rolls(u64);

impl Rolls {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs `workload` against `base` with these users (dealt out to the
/// connections in turn); returns what the clients saw, and the users with
/// their models for [`verify`].
pub async fn run(base: String, workload: Workload, users: Vec<User>) -> (Tally, Vec<User>) {
    let started = Instant::now();
    let until = started + workload.duration;
    let mut dealt: Vec<Vec<User>> = (0..workload.connections).map(|_| Vec::new()).collect();
    for (n, user) in users.into_iter().enumerate() {
        dealt[n % workload.connections].push(user);
    }
    let tasks: Vec<_> = dealt
        .into_iter()
        .enumerate()
        .map(|(n, mut users)| {
            let mut client = Client::new(&base, workload.deadline);
            let mut rolls = Rolls(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1));
            tokio::spawn(async move {
                while Instant::now() < until && !users.is_empty() {
                    let roll = rolls.next();
                    let pick = (roll >> 32) as usize % users.len();
                    let writes = workload.writes_percent;
                    client.step(&mut users[pick], roll, writes).await;
                }
                (client.tally, users)
            })
        })
        .collect();
    let mut tally = Tally::default();
    let mut all = Vec::new();
    for task in tasks {
        let (part, users) = task.await.expect("a client task");
        tally.merge(part);
        all.extend(users);
    }
    tally.elapsed = started.elapsed();
    tally.latencies_us.sort_unstable();
    (tally, all)
}

/// What reading everything back found.
#[derive(Debug, Default)]
pub struct Verified {
    pub users: usize,
    pub todos: usize,
    /// Acknowledged todos missing, or not as last acknowledged.
    pub lost: usize,
    /// Todos the service has that no acknowledged write made.
    pub phantoms: usize,
    /// The first few of either, described.
    pub examples: Vec<String>,
}

impl Verified {
    fn note(&mut self, example: String) {
        if self.examples.len() < 8 {
            self.examples.push(example);
        }
    }
}

/// Settles every write still in doubt, then lists every user's todos and
/// compares them with what the clients were told. `patience` bounds the
/// retries of writes in doubt (the backend may still be healing).
pub async fn verify(base: &str, users: &mut [User], patience: Duration) -> Verified {
    let mut client = Client::new(base, Duration::from_secs(60));
    let give_up = Instant::now() + patience;
    let mut verified = Verified::default();
    for user in users.iter_mut() {
        while !client.finish_create(user).await {
            assert!(Instant::now() < give_up, "a create stayed in doubt");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let in_doubt: Vec<String> = user
            .todos
            .iter()
            .filter(|(_, k)| matches!(k, Known::InDoubt { .. }))
            .map(|(id, _)| id.clone())
            .collect();
        for id in in_doubt {
            while matches!(user.todos.get(&id), Some(Known::InDoubt { .. })) {
                assert!(Instant::now() < give_up, "a write stayed in doubt");
                client.read(user, &id).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let seen = list_all(&mut client, user, give_up).await;
        let (lost, phantoms) = differences(&exact(user), &seen);
        verified.users += 1;
        verified.todos += seen.len();
        verified.lost += lost.len();
        verified.phantoms += phantoms.len();
        for example in lost
            .into_iter()
            .chain(phantoms.into_iter().map(|id| format!("phantom {id}")))
        {
            verified.note(example);
        }
    }
    assert_eq!(client.tally.unexpected, 0, "{}", client.tally.problems());
    verified
}

async fn list_all(
    client: &mut Client,
    user: &User,
    give_up: Instant,
) -> BTreeMap<String, TodoState> {
    let mut all = BTreeMap::new();
    let mut path = "/todos?limit=100".to_string();
    loop {
        let answer = client
            .send(user, (Method::GET, &path), &[], None, &[])
            .await;
        let Answer::Final(_, body) = answer else {
            assert!(Instant::now() < give_up, "the list stayed unavailable");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        all.extend(listed(&body));
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/todos?limit=100&cursor={cursor}"),
            None => return all,
        }
    }
}
