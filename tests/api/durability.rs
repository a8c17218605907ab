//! The real binary as a process: acknowledged writes survive `kill -9`, and
//! the bearer token never appears in its logs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::fresh_data_dir;

struct Process {
    child: Child,
    base: String,
    logs: mpsc::Receiver<String>,
}

/// A failing test must not leave a server behind.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `atrium` on a free port over `data_dir` and waits for "listening".
#[allow(
    clippy::zombie_processes,
    reason = "`Process` waits for the child when dropped"
)]
fn start(data_dir: &std::path::Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .env("APP_DATA_DIR", data_dir)
        .env("APP_ADDR", "127.0.0.1:0")
        .env("APP_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start atrium");
    let (tx, logs) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = logs
            .recv_timeout(Duration::from_secs(30))
            .expect("atrium logs 'listening'");
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["message"] == "listening" {
            let base = format!("http://{}", event["addr"].as_str().unwrap());
            return Process { child, base, logs };
        }
    }
}

fn token(data_dir: &std::path::Path, user: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(["token", "--user", user, "--ttl", "10m"])
        .env("APP_DATA_DIR", data_dir)
        .output()
        .expect("atrium token");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = fresh_data_dir();
    let mut server = start(dir.path());
    let alice = token(dir.path(), "alice");
    let client = reqwest::Client::new();
    let mut created = Vec::new();
    for i in 0..20 {
        let response = client
            .post(format!("{}/todos", server.base))
            .bearer_auth(&alice)
            .json(&json!({ "title": format!("todo {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        created.push(response.json::<Value>().await.unwrap());
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    server.child.wait().unwrap();

    let restarted = start(dir.path());
    let list: Value = client
        .get(format!("{}/todos?limit=100", restarted.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"],
        Value::Array(created),
        "every acknowledged todo is back"
    );
    stop(restarted);
}

#[tokio::test]
async fn the_token_never_reaches_the_logs() {
    let dir = fresh_data_dir();
    let server = start(dir.path());
    let alice = token(dir.path(), "alice");
    let client = reqwest::Client::new();
    for path in ["/me", "/todos", "/nope"] {
        client
            .get(format!("{}{path}", server.base))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
    }
    client
        .get(format!("{}/me", server.base))
        .bearer_auth("forged.token.value")
        .send()
        .await
        .unwrap();
    let logs = stop(server);
    assert!(
        logs.iter().any(|l| l.contains("/todos")),
        "requests are logged"
    );
    let signature = alice.rsplit('.').next().unwrap();
    assert!(
        !logs
            .iter()
            .any(|l| l.contains(signature) || l.contains("forged.token.value"))
    );
    assert!(
        !logs
            .iter()
            .any(|l| l.to_ascii_lowercase().contains("bearer"))
    );
}

/// Stops the server with SIGTERM and returns everything it logged.
fn stop(server: Process) -> Vec<String> {
    let mut server = server;
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM exits cleanly: {status}");
    let mut lines = Vec::new();
    while let Ok(line) = server.logs.recv_timeout(Duration::from_secs(2)) {
        lines.push(line);
    }
    lines
}

/// ECS stops a task with SIGTERM: the server stops accepting at once, lets
/// the request in flight (here an upload arriving slowly) finish, and exits 0.
#[tokio::test]
async fn sigterm_drains_a_slow_request_and_refuses_new_connections() {
    use std::io::{Read, Write};
    let dir = fresh_data_dir();
    let server = start(dir.path());
    let token = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(["token", "--user", "erin"])
        .env("APP_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let body = "a line of notes\n".repeat(4096);
    let ticket: Value = reqwest::Client::new()
        .post(format!("{}/uploads", server.base))
        .bearer_auth(&token)
        .json(&json!({ "filename": "notes.txt", "content_type": "text/plain", "size": body.len() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = reqwest::Url::parse(ticket["url"].as_str().unwrap()).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut head = format!(
        "PUT {}?{} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n",
        url.path(),
        url.query().unwrap()
    );
    for pair in ticket["headers"].as_array().unwrap() {
        let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        if name != "host" {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut upload = std::net::TcpStream::connect(&addr).unwrap();
    upload.write_all(head.as_bytes()).unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    upload.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the handler is reading

    let mut server = server;
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let refused = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(&addr).is_err()
    });
    assert!(refused, "new connections are refused once SIGTERM arrives");

    upload.write_all(rest).unwrap();
    let mut response = String::new();
    upload.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201") || response.starts_with("HTTP/1.1 200"),
        "the in-flight upload completes: {response}"
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exits 0 after draining: {status}");
}
