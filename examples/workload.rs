//! The read-heavy workload of a to-do app, driven against a running server
//! by `./scripts/bench` (not a test: the figures depend on the machine).
//!
//!   workload seed BASE_URL IDS_FILE     # users and their todos, ids saved
//!   workload run BASE_URL IDS_FILE LABEL   # the mix; prints one result row
//!
//! The mix: users drawn from a Zipf distribution (s = 1.1: a few users make
//! most requests, as in any app), 95% reads (a todo, or the first page of
//! the list, half each) and 5% writes (create, patch, delete, a third
//! each), from `WORKLOAD_CONNECTIONS` clients that each wait for their
//! answer. Sizes: `WORKLOAD_USERS` (1000) × `WORKLOAD_TODOS` (50),
//! `WORKLOAD_SECONDS` (15). Tokens come from the server's local issuer, so
//! run it with the server's `APP_DATA_DIR`.
//!
//! A row: requests per second, p50 and p99 latency, the cache hit ratio
//! (reads answered from memory, by the response cache or the read cache,
//! over all reads that asked a cache), the share of GETs answered from kept
//! bytes, backend reads per request (misses of the read cache plus strongly
//! consistent reads) and evictions, from the server's `/metrics` before and
//! after.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atrium::auth::LocalIssuer;
use atrium::config::Config;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

type Ids = Vec<Vec<String>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let users = setting("WORKLOAD_USERS", 1000);
    let driver = Driver {
        base: args
            .get(1)
            .ok_or("usage: workload seed|run BASE_URL IDS_FILE [LABEL]")?
            .clone(),
        client: Client::new(),
        tokens: Arc::new(tokens(users)?),
        connections: setting("WORKLOAD_CONNECTIONS", 32),
    };
    let ids_file = args.get(2).ok_or("IDS_FILE is missing")?;
    match args[0].as_str() {
        "seed" => {
            let ids = driver.seed(setting("WORKLOAD_TODOS", 50)).await?;
            std::fs::write(ids_file, serde_json::to_vec(&ids)?)?;
        }
        "run" => {
            let ids: Ids = serde_json::from_slice(&std::fs::read(ids_file)?)?;
            let seconds = setting("WORKLOAD_SECONDS", 15) as u64;
            let label = args.get(3).map_or("run", String::as_str);
            let left = driver.run(ids, Duration::from_secs(seconds), label).await?;
            // The todos as the run left them, for the next run: one that
            // started from the seed's would ask for those deleted since.
            std::fs::write(ids_file, serde_json::to_vec(&left)?)?;
        }
        other => return Err(format!("unknown command {other}").into()),
    }
    Ok(())
}

fn tokens(users: usize) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let issuer = LocalIssuer::load_or_create(&config.data_dir)?;
    let ttl = Duration::from_secs(3600);
    Ok((0..users)
        .map(|n| issuer.mint(&config.auth, &format!("w{n}"), &[], ttl))
        .collect())
}

#[derive(Clone)]
struct Driver {
    base: String,
    client: Client,
    tokens: Arc<Vec<String>>,
    connections: usize,
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    reads: u64,
    unexpected: Vec<String>,
}

impl Driver {
    async fn send(
        &self,
        method: Method,
        path: &str,
        user: usize,
        body: Option<Value>,
    ) -> (StatusCode, Option<Value>) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[user]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                (status, response.json().await.ok())
            }
            Err(_) => (StatusCode::BAD_GATEWAY, None),
        }
    }

    /// Creates `per_user` todos for every user, `connections` at a time.
    async fn seed(&self, per_user: usize) -> Result<Ids, Box<dyn std::error::Error>> {
        let started = Instant::now();
        let users = self.tokens.len();
        let mut tasks = Vec::new();
        for lane in 0..self.connections {
            let driver = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut made = Vec::new();
                for user in (lane..users).step_by(driver.connections) {
                    // In batches of 25, as a phone's first sync would send
                    // them: one transaction each, not one per todo.
                    let mut ids = Vec::with_capacity(per_user);
                    for start in (0..per_user).step_by(25) {
                        let operations: Vec<Value> = (start..per_user.min(start + 25))
                            .map(|n| json!({"op": "create", "todo": {"title": format!("todo {n} of user {user}"), "notes": "a line of notes"}}))
                            .collect();
                        let body = json!({ "operations": operations });
                        let (status, answer) = driver.send(Method::POST, "/todos/batch", user, Some(body)).await;
                        let made = answer.filter(|_| status == StatusCode::OK).and_then(|a| {
                            a["results"].as_array().map(|results| {
                                results.iter().filter_map(|r| r["todo"]["id"].as_str().map(String::from)).collect::<Vec<_>>()
                            })
                        });
                        ids.extend(made.ok_or_else(|| format!("seeding: POST /todos/batch answered {status}"))?);
                    }
                    made.push((user, ids));
                }
                Ok::<_, String>(made)
            }));
        }
        let mut ids = vec![Vec::new(); users];
        for task in tasks {
            for (user, made) in task.await?? {
                ids[user] = made;
            }
        }
        let todos: usize = ids.iter().map(Vec::len).sum();
        eprintln!(
            "seeded {users} users with {todos} todos in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(ids)
    }

    async fn run(
        &self,
        ids: Ids,
        length: Duration,
        label: &str,
    ) -> Result<Ids, Box<dyn std::error::Error>> {
        let before = self.metrics().await?;
        let zipf = Arc::new(Zipf::new(ids.len(), 1.1));
        let ids: Arc<Vec<Mutex<Vec<String>>>> = Arc::new(ids.into_iter().map(Mutex::new).collect());
        let started = Instant::now();
        let deadline = started + length;
        let mut tasks = Vec::new();
        for lane in 0..self.connections {
            let (driver, zipf, ids) = (self.clone(), zipf.clone(), ids.clone());
            tasks.push(tokio::spawn(async move {
                driver
                    .client_loop(lane as u64 + 1, &zipf, &ids, deadline)
                    .await
            }));
        }
        let mut all = Seen::default();
        for task in tasks {
            let seen = task.await?;
            all.latencies_us.extend(seen.latencies_us);
            all.reads += seen.reads;
            all.unexpected.extend(seen.unexpected);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let after = self.metrics().await?;
        let delta = |name: &str| {
            after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
        };
        let requests = all.latencies_us.len() as f64;
        all.latencies_us.sort_unstable();
        let percentile =
            |p: f64| f64::from(all.latencies_us[((requests - 1.0) * p) as usize]) / 1000.0;
        let backend_reads =
            delta("atrium_cache_misses_total") + delta("atrium_cache_bypassed_total");
        let reads = all.reads as f64;
        let from_memory =
            delta("atrium_cache_hits_total") + delta("atrium_response_cache_hits_total");
        println!(
            "  {label:<22} {:>9.0} {:>8.2} {:>8.2} {:>9.1}% {:>9.1}% {:>10.3} {:>10} {:>10}",
            requests / elapsed,
            percentile(0.5),
            percentile(0.99),
            100.0 * from_memory / (from_memory + delta("atrium_cache_misses_total")).max(1.0),
            100.0 * delta("atrium_response_cache_hits_total") / reads,
            backend_reads / requests,
            delta("atrium_cache_evictions_total"),
            all.unexpected.len(),
        );
        for problem in all.unexpected.iter().take(5) {
            eprintln!("  unexpected: {problem}");
        }
        let ids = Arc::try_unwrap(ids).map_err(|_| "a client still holds the ids")?;
        Ok(ids
            .into_iter()
            .map(|todos| todos.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect())
    }

    /// One client: pick a user and an operation, wait for the answer, repeat.
    async fn client_loop(
        &self,
        seed: u64,
        zipf: &Zipf,
        ids: &[Mutex<Vec<String>>],
        deadline: Instant,
    ) -> Seen {
        let mut random = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut seen = Seen::default();
        while Instant::now() < deadline {
            let user = zipf.sample(random.unit());
            let roll = random.below(1000);
            let pick = |random: &mut XorShift| {
                let todos = ids[user].lock().unwrap();
                (!todos.is_empty())
                    .then(|| todos[random.below(todos.len() as u64) as usize].clone())
            };
            let id = pick(&mut random);
            let started = Instant::now();
            let (method, path, body) = match (roll, id) {
                (0..475, Some(id)) => (Method::GET, format!("/todos/{id}"), None),
                (0..950, _) => (Method::GET, "/todos".to_string(), None),
                (950..967, _) | (_, None) => (
                    Method::POST,
                    "/todos".to_string(),
                    Some(json!({"title": "new"})),
                ),
                (967..984, Some(id)) => {
                    let change = json!({"completed": roll.is_multiple_of(2)});
                    (Method::PATCH, format!("/todos/{id}"), Some(change))
                }
                (_, Some(id)) => (Method::DELETE, format!("/todos/{id}"), None),
            };
            let reading = method == Method::GET;
            let (status, answer) = self.send(method.clone(), &path, user, body).await;
            seen.latencies_us
                .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
            seen.reads += u64::from(reading);
            match (&method, status.as_u16()) {
                (&Method::POST, 201) => {
                    if let Some(id) = answer.as_ref().and_then(|t| t["id"].as_str()) {
                        ids[user].lock().unwrap().push(id.to_string());
                    }
                }
                (&Method::DELETE, 204) => {
                    let gone = path.trim_start_matches("/todos/");
                    ids[user].lock().unwrap().retain(|id| id != gone);
                }
                // Another client of the same user deleted or changed it first.
                (_, 200 | 404 | 409) => {}
                (_, other) => seen.unexpected.push(format!("{method} {path}: {other}")),
            }
        }
        seen
    }

    /// The counters of `/metrics`, by name.
    async fn metrics(&self) -> Result<std::collections::HashMap<String, f64>, reqwest::Error> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.contains('{'))
            .filter_map(|line| line.split_once(' '))
            .filter_map(|(name, value)| Some((name.to_string(), value.parse().ok()?)))
            .collect())
    }
}

/// Ranks 0..n drawn with probability proportional to 1 / (rank + 1)^s.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        cumulative.iter_mut().for_each(|c| *c /= total);
        Self { cumulative }
    }

    /// The rank for a uniform draw in [0, 1).
    fn sample(&self, unit: f64) -> usize {
        self.cumulative
            .partition_point(|&c| c <= unit)
            .min(self.cumulative.len() - 1)
    }
}

/// A small, fast generator: a benchmark needs spread, not secrecy.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
