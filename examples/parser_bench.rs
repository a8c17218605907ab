//! The worst inputs found for each parser on a request path, timed at 10,
//! 20 and 50 KB, and `/healthz` latency while four of the worst accepted
//! posts are written at once: `cargo run --release --example parser_bench`.
//!
//! Not a test: the figures depend on the machine. What to read is the
//! shape: a linear parser's 50 KB time is about 5× its 10 KB time.

use std::time::{Duration, Instant};

use atrium::app::Application;
use atrium::config::Config;
use atrium::runtime::Server;
use serde_json::json;

#[global_allocator]
static GLOBAL: atrium::allocator::Allocator = atrium::allocator::Allocator {};

type Make = fn(usize) -> String;

/// Markdown shapes: each was the worst of its kind, or was before the bounds.
const MARKDOWN: [(&str, Make); 8] = [
    ("nested quotes (refused past 32)", |n| ">".repeat(n)),
    ("quoted lists (refused past 32)", |n| "> - ".repeat(n / 4)),
    ("unclosed <div> (shown as text)", |n| "<div>".repeat(n / 5)),
    ("table rows", |n| {
        "|a|b|\n|-|-|\n".to_string() + &"|x\n".repeat(n / 3)
    }),
    ("entities", |n| "&#".repeat(n / 2)),
    // Each `&` reaches the sanitizer as `&amp;`: html5ever's character
    // references grow worse than linearly (its text nodes), bounded here by
    // the body's 50,000 characters.
    ("ampersands", |n| "&".repeat(n)),
    ("emphasis runs", |n| "*_".repeat(n / 2)),
    ("link openers", |n| "[a](".repeat(n / 4)),
];

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| input | 10 KB | 20 KB | 50 KB | 50 KB / 10 KB |");
    println!("|---|---|---|---|---|");
    for (name, make) in MARKDOWN {
        row(name, |kb| {
            let _ = atrium::blog::markdown_to_safe_html(&make(kb * 1000), &[]);
        });
    }
    row("JSON nested arrays (serde_json stops at 128)", |kb| {
        let text = "[".repeat(kb * 1000);
        let _ = serde_json::from_str::<serde_json::Value>(&text);
    });
    row("query string, one pair repeated", |kb| {
        let text = "a=1&".repeat(kb * 250);
        let _: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
    });
    row("slug from a title", |kb| {
        let _ = atrium::ids::Slug::from_title(&"a-".repeat(kb * 500));
    });
    runtime.block_on(healthz_under_load());
}

/// Times `work` at 10, 20 and 50 KB (best of three) and prints the row.
fn row(name: &str, work: impl Fn(usize)) {
    let time = |kb| {
        (0..3)
            .map(|_| {
                let started = Instant::now();
                work(kb);
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let (small, middle, large) = (time(10), time(20), time(50));
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
    println!("| {name} | {small:.1?} | {middle:.1?} | {large:.1?} | {ratio:.1} |");
}

/// p50/p99 of `/healthz` alone, then while four 50 KB posts of the slowest
/// accepted shape (table rows) are written at once.
async fn healthz_under_load() {
    let dir = tempfile_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let data = dir.display().to_string();
    let public_url = base.clone();
    let env = move |name: &str| match name {
        "APP_DATA_DIR" => Some(data.clone()),
        "APP_PUBLIC_URL" => Some(public_url.clone()),
        _ => None,
    };
    let config = Config::from_lookup(env).unwrap();
    let app = Application::build(config.clone()).await.unwrap();
    let issuer = atrium::auth::LocalIssuer::load_or_create(&dir).unwrap();
    let token = issuer.mint(
        &config.auth,
        "ann",
        &["authors".into()],
        Duration::from_secs(600),
    );
    let server = Server::on(listener, app.router(), Duration::from_secs(1));
    tokio::spawn(server.run(std::future::pending()));
    let client = reqwest::Client::new();

    let alone = latencies(&client, &base, 200).await;
    let body = MARKDOWN[3].1(49_900);
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let (client, url, token) =
                (client.clone(), format!("{base}/blog/posts"), token.clone());
            let post = json!({"title": format!("Load {i}"), "body": body});
            tokio::spawn(async move {
                for round in 0..5 {
                    let mut post = post.clone();
                    post["slug"] = json!(format!("load-{i}-{round}"));
                    let answer = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&post)
                        .send()
                        .await;
                    assert_eq!(answer.unwrap().status(), 201);
                }
            })
        })
        .collect();
    let loaded = latencies(&client, &base, 200).await;
    for writer in writers {
        writer.await.unwrap();
    }
    println!();
    println!("| `/healthz` | p50 | p99 |");
    println!("|---|---|---|");
    println!("| alone | {:.2?} | {:.2?} |", alone.0, alone.1);
    println!(
        "| with four 50 KB table posts being written | {:.2?} | {:.2?} |",
        loaded.0, loaded.1
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn latencies(client: &reqwest::Client, base: &str, count: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let answer = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert!(answer.status().is_success());
        times.push(started.elapsed());
    }
    times.sort();
    (times[count / 2], times[count * 99 / 100])
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("atrium-parser-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
