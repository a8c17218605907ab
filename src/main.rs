//! The `atrium` binary: read config, start logging, then do what the command
//! line asks. By default it serves: over TCP, or, when Lambda started it
//! (`AWS_LAMBDA_RUNTIME_API`), through Lambda's runtime API. One binary, one
//! image, every place it runs. Everything else lives in the library.

use std::process::ExitCode;
use std::time::Duration;

use atrium::app::Application;
use atrium::config::{Config, Runtime, StoreConfig, parse_duration};
use atrium::http::emf::Emf;
use atrium::runtime::{Limits, Server, shutdown_signal};
use clap::{Parser, Subcommand};

/// mimalloc: see `atrium::allocator`.
#[global_allocator]
static GLOBAL: atrium::allocator::Allocator = atrium::allocator::Allocator {};

#[derive(Parser)]
#[command(
    name = "atrium",
    version,
    about = "To-dos, a blog and file uploads, on AWS or on a laptop"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default): HTTP over TCP, or Lambda events when run by Lambda.
    Serve,
    /// Exit 0 if the server on this machine answers `/healthz` within 2 s
    /// (the container's HEALTHCHECK; the image has no curl).
    Healthcheck,
    /// Print a bearer token from the local issuer (for a server without Cognito).
    Token {
        /// The user name; the same name always gets the same `sub`.
        #[arg(long)]
        user: String,
        /// A Cognito group to include (repeatable): `authors` writes posts,
        /// `editors` may change anyone's.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// How long the token is valid: `1h`, `30m`, `3600`.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Create or update the DynamoDB table (`APP_TABLE`) to the definition in
    /// `migrations/`; safe to run again.
    Migrate,
    /// The blog's website.
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Render every page again and write those that changed (after an
    /// upgrade that changed the templates); a second run writes nothing.
    Build,
}

/// Threads for blocking work (the embedded store's transactions, files;
/// photos have threads of their own, `atrium::large_work`). Tokio's
/// default is 512 and grows on demand: under the workload benchmark the
/// embedded store's calls grew it to 60 threads, each with a stack and
/// allocator pages of its own, for two cores' worth of work.
const BLOCKING_THREADS: usize = 8;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    atrium::allocator::release_empty_pages_at_once();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match config.runtime {
            Runtime::Server => serve(config).await,
            Runtime::LambdaHttp | Runtime::LambdaEvents => serve_lambda(config).await,
        },
        Command::Healthcheck => healthcheck(&config).await,
        Command::Token { user, groups, ttl } => token(&config, &user, &groups, ttl),
        Command::Migrate => migrate(&config).await,
        Command::Site(SiteCommand::Build) => build_site(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mut config: Config) -> Result<(), Box<dyn std::error::Error>> {
    atrium::telemetry::init(config.log_json);
    // Bound first, so links the service hands out carry the real port.
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    if config.addr.port() == 0 {
        config.public_url = format!("http://{addr}");
    }
    let grace = config.shutdown_grace;
    let data_dir = config.data_dir.display().to_string();
    let app = Application::build(config).await?;
    let workers = app.start_workers();
    app.build_local_site();
    let limits = Limits::from(app.config());
    let server = Server::on(listener, app.router(), grace).with_limits(limits);
    tracing::info!(%addr, data_dir, backends = %app.describe(), "listening");
    server.run(shutdown_signal()).await?;
    workers.shutdown(grace).await;
    Ok(())
}

async fn serve_lambda(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    atrium::telemetry::init(config.log_json);
    let runtime = config.runtime;
    let app = Application::build(config).await?;
    // Only with embedded backends (a local emulation): on AWS there are none.
    let _workers = app.start_workers();
    tracing::info!(?runtime, backends = %app.describe(), "ready for Lambda events");
    let result = match runtime {
        Runtime::LambdaEvents => {
            let backends = app.backends();
            let emf = Emf::new(backends.cache.stats(), &backends.tally);
            atrium::runtime::lambda::serve_events(app.reactions().clone(), emf).await
        }
        _ => atrium::runtime::lambda::serve_http(app.router()).await,
    };
    result.map_err(|error| error.to_string().into())
}

async fn build_site(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    let site = &app.reactions().site;
    let started = std::time::Instant::now();
    let built = atrium::site::build(site).await?;
    println!(
        "site in {}: wrote {}, deleted {}, unchanged {} ({} ms)",
        site.store.describe(),
        built.written,
        built.deleted,
        built.unchanged,
        started.elapsed().as_millis()
    );
    Ok(())
}

async fn healthcheck(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = config.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?
        .get(format!("http://{addr}/healthz"))
        .send()
        .await?;
    match response.status().is_success() {
        true => Ok(()),
        false => Err(format!("/healthz answered {}", response.status()).into()),
    }
}

async fn migrate(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let StoreConfig::Dynamo { table } = &config.store else {
        return Err("migrate applies to DynamoDB: set APP_STORE=dynamodb (and APP_TABLE)".into());
    };
    let sdk = atrium::aws::load(&config.aws).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let changes = atrium::store::migrations::migrate(&client, table).await?;
    if changes.is_empty() {
        println!("table {table} is up to date");
    }
    for change in changes {
        println!("table {table}: {change}");
    }
    Ok(())
}

fn token(
    config: &Config,
    user: &str,
    groups: &[String],
    ttl: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    if config.auth.jwks_url.is_some() {
        return Err("APP_JWKS_URL is set: tokens come from Cognito, not the local issuer".into());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let issuer = atrium::auth::LocalIssuer::load_or_create(&config.data_dir)?;
    println!("{}", issuer.mint(&config.auth, user, groups, ttl));
    Ok(())
}
