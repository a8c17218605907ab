//! Typed configuration, read once from the environment and checked at start.
//!
//! Every variable is optional: with none set the binary runs on the embedded
//! default (local store, local token issuer) on 127.0.0.1:3000. A bad value
//! stops the process at start with a message naming the variable, rather than
//! surfacing later as a confusing runtime error. Tests build a `Config` from a
//! map with [`Config::from_lookup`], through the same parsing code.

mod read;
#[cfg(test)]
mod tests;

pub use read::parse_duration;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use read::{duration, parse};

use crate::auth::AuthConfig;
use crate::aws::AwsConfig;
use crate::store::CacheConfig;

/// The whole configuration of one process.
#[derive(Clone, Debug)]
pub struct Config {
    /// How requests arrive: a TCP listener, or Lambda's runtime API.
    pub runtime: Runtime,
    /// Where the HTTP server listens (`APP_ADDR`, or `APP_HOST` (127.0.0.1)
    /// and `PORT` (3000); the container image sets 0.0.0.0 and 8080).
    pub addr: SocketAddr,
    /// Where embedded backends keep their files (`APP_DATA_DIR`; `./data`, or
    /// `/tmp/atrium` on Lambda, whose only writable place is `/tmp`).
    pub data_dir: PathBuf,
    /// The read cache in front of the table.
    pub cache: CacheConfig,
    /// Origins allowed by CORS (`APP_CORS_ORIGINS`, comma-separated; empty = none).
    pub cors_origins: Vec<String>,
    /// How long one request may take before it is answered 503 (`APP_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers, or pause
    /// in its body (answered 408) (`APP_BODY_TIMEOUT`).
    pub body_timeout: Duration,
    /// How many connections are served at once; one more is answered 503
    /// (`APP_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// How long in-flight requests get to finish after SIGTERM (`APP_SHUTDOWN_GRACE`).
    pub shutdown_grace: Duration,
    /// Token verification.
    pub auth: AuthConfig,
    /// `json` for machine-read logs (containers, Lambda) or `text` (`APP_LOG_FORMAT`).
    pub log_json: bool,
    /// Where items live.
    pub store: StoreConfig,
    /// Where files live.
    pub objects: ObjectsConfig,
    /// The S3 bucket the blog's website is generated into
    /// (`APP_SITE_BUCKET`); unset, it goes to `$APP_DATA_DIR/site/`, served
    /// at `/`.
    pub site_bucket: Option<String>,
    /// How mail goes out.
    pub mail: MailConfig,
    /// The service's own address as clients reach it (`APP_PUBLIC_URL`), for
    /// links it hands out (local file URLs, unsubscribe links); defaults to
    /// `http://{addr}`.
    pub public_url: String,
    /// Overrides for the AWS SDK; everything else comes from its standard chain.
    pub aws: AwsConfig,
    /// The blog's name and subscriber limits.
    pub blog: BlogConfig,
    /// What `POST /uploads` accepts.
    pub uploads: UploadRules,
    /// How many proxies in front of the service append to `X-Forwarded-For`
    /// (`APP_TRUSTED_PROXY_HOPS`; 0 = use the TCP peer address).
    pub trusted_proxy_hops: usize,
    /// How long deleted todos are remembered for sync (`APP_SYNC_RETENTION`);
    /// a sync token older than this must start again.
    pub sync_retention: Duration,
    /// Requests per second per caller, per instance (`APP_THROTTLE_READS`,
    /// `APP_THROTTLE_WRITES`, `APP_THROTTLE_PUBLIC`; 0 = unthrottled).
    pub throttle: ThrottleRules,
}

/// Requests per second per caller, per instance, for each class, with two
/// seconds' worth allowed at once; `None` leaves a class unthrottled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleRules {
    /// A signed-in user's GETs, counted by `sub` (50).
    pub reads: Option<NonZeroU32>,
    /// A signed-in user's other requests, counted by `sub` (10).
    pub writes: Option<NonZeroU32>,
    /// Anonymous requests, counted by client address (50).
    pub public: Option<NonZeroU32>,
}

/// Where requests come from. On Lambda (`AWS_LAMBDA_RUNTIME_API` is set by
/// the service) `APP_LAMBDA_HANDLER` says which kind of function this is; the
/// same binary and image serve all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// A TCP server on `addr` (laptop, container).
    Server,
    /// Lambda HTTP events: Function URL, API Gateway REST and HTTP APIs, ALB
    /// (`APP_LAMBDA_HANDLER=http`, the default).
    LambdaHttp,
    /// Lambda with DynamoDB Stream batches and S3 notifications
    /// (`APP_LAMBDA_HANDLER=events`).
    LambdaEvents,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlogConfig {
    /// Shown in mail and pages (`APP_BLOG_NAME`).
    pub name: String,
    /// Subscribe requests allowed per client address per window
    /// (`APP_SUBSCRIBE_LIMIT`, `APP_SUBSCRIBE_WINDOW`).
    pub subscribe_limit: u32,
    pub subscribe_window: Duration,
}

/// The item store backend (`APP_STORE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    /// `embedded` (default): a file under the data dir.
    Embedded,
    /// `dynamodb`: the table named by `APP_TABLE` (default `atrium`).
    Dynamo { table: String },
}

/// The object store backend: S3 when `APP_BUCKET` is set, else local files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectsConfig {
    Local,
    S3 { bucket: String },
}

/// Mail: SES v2 when `APP_MAIL_FROM` is set, else an outbox of `.eml` files
/// under the data dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailConfig {
    /// The sender address (`APP_MAIL_FROM`; `noreply@atrium.localhost` for the outbox).
    pub from: String,
    pub ses: bool,
}

impl Config {
    /// True when any backend talks to AWS (so the SDK must be configured).
    pub fn uses_aws(&self) -> bool {
        matches!(self.store, StoreConfig::Dynamo { .. })
            || matches!(self.objects, ObjectsConfig::S3 { .. })
            || self.site_bucket.is_some()
            || self.mail.ses
    }
}

/// What `POST /uploads` accepts (`APP_UPLOAD_MAX_BYTES`, `APP_UPLOAD_TYPES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRules {
    pub max_bytes: u64,
    pub types: Vec<String>,
}

/// What may be uploaded unless `APP_UPLOAD_TYPES` says otherwise.
pub const DEFAULT_UPLOAD_TYPES: [&str; 6] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
];

/// A variable that was set to something unusable.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `get` (the environment, or a test's map).
    /// Every name it reads is listed in `environment.json`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let addr = read::address(&var)?;
        let runtime = read::runtime(&var)?;
        let default_data_dir = match runtime {
            Runtime::Server => "data",
            Runtime::LambdaHttp | Runtime::LambdaEvents => "/tmp/atrium",
        };
        Ok(Self {
            runtime,
            addr,
            data_dir: var("APP_DATA_DIR")
                .unwrap_or_else(|| default_data_dir.into())
                .into(),
            cache: read::cache(&var)?,
            cors_origins: read::list(var("APP_CORS_ORIGINS")),
            request_timeout: duration(&var, "APP_REQUEST_TIMEOUT", Duration::from_secs(30))?,
            body_timeout: duration(&var, "APP_BODY_TIMEOUT", Duration::from_secs(10))?,
            max_connections: parse(&var, "APP_MAX_CONNECTIONS", 1000usize)?,
            shutdown_grace: duration(&var, "APP_SHUTDOWN_GRACE", Duration::from_secs(20))?,
            auth: read::auth(&var)?,
            log_json: read::log_json(&var, runtime)?,
            store: read::store(&var)?,
            objects: match var("APP_BUCKET") {
                Some(bucket) => ObjectsConfig::S3 { bucket },
                None => ObjectsConfig::Local,
            },
            site_bucket: var("APP_SITE_BUCKET"),
            mail: match var("APP_MAIL_FROM") {
                Some(from) => MailConfig { from, ses: true },
                None => MailConfig {
                    from: "noreply@atrium.localhost".into(),
                    ses: false,
                },
            },
            public_url: var("APP_PUBLIC_URL")
                .map(|url| url.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("http://{addr}")),
            aws: AwsConfig {
                endpoint_url: var("AWS_ENDPOINT_URL"),
                region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            },
            blog: BlogConfig {
                name: var("APP_BLOG_NAME").unwrap_or_else(|| "the atrium blog".into()),
                subscribe_limit: parse(&var, "APP_SUBSCRIBE_LIMIT", 5u32)?,
                subscribe_window: duration(&var, "APP_SUBSCRIBE_WINDOW", Duration::from_secs(600))?,
            },
            trusted_proxy_hops: parse(&var, "APP_TRUSTED_PROXY_HOPS", 0usize)?,
            sync_retention: duration(&var, "APP_SYNC_RETENTION", Duration::from_secs(30 * 86_400))?,
            throttle: ThrottleRules {
                reads: NonZeroU32::new(parse(&var, "APP_THROTTLE_READS", 50u32)?),
                writes: NonZeroU32::new(parse(&var, "APP_THROTTLE_WRITES", 10u32)?),
                public: NonZeroU32::new(parse(&var, "APP_THROTTLE_PUBLIC", 50u32)?),
            },
            uploads: read::uploads(&var)?,
        })
    }
}
