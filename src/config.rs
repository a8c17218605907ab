//! Typed configuration, read once from the environment and checked at start.
//!
//! Every variable is optional: with none set the binary runs on the embedded
//! default (local store, local token issuer) on 127.0.0.1:3000. A bad value
//! stops the process at start with a message naming the variable, rather than
//! surfacing later as a confusing runtime error. Tests build a `Config` from a
//! map with [`Config::from_lookup`], through the same parsing code.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::{AuthConfig, LOCAL_CLIENT_ID, LOCAL_ISSUER};
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
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let port = parse(&var, "PORT", 3000u16)?;
        let host = parse(&var, "APP_HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
        let addr = match var("APP_ADDR") {
            Some(text) => text.parse().map_err(|e| bad("APP_ADDR", e))?,
            None => SocketAddr::new(host, port),
        };
        let cache = CacheConfig {
            ttl: duration(&var, "APP_CACHE_TTL", Duration::from_secs(300))?,
            max_bytes: parse(&var, "APP_CACHE_MAX_BYTES", 64 * 1024 * 1024u64)?,
            ..CacheConfig::default()
        };
        let runtime = runtime(&var)?;
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
            cache,
            cors_origins: list(var("APP_CORS_ORIGINS")),
            request_timeout: duration(&var, "APP_REQUEST_TIMEOUT", Duration::from_secs(30))?,
            shutdown_grace: duration(&var, "APP_SHUTDOWN_GRACE", Duration::from_secs(20))?,
            auth: auth_config(&var)?,
            log_json: match var("APP_LOG_FORMAT").as_deref() {
                None => runtime != Runtime::Server,
                Some("json") => true,
                Some("text") => false,
                Some(other) => {
                    return Err(bad(
                        "APP_LOG_FORMAT",
                        format!("`{other}` is not json or text"),
                    ));
                }
            },
            store: match var("APP_STORE").as_deref() {
                None | Some("embedded") => StoreConfig::Embedded,
                Some("dynamodb") => StoreConfig::Dynamo {
                    table: var("APP_TABLE").unwrap_or_else(|| "atrium".into()),
                },
                Some(other) => {
                    return Err(bad(
                        "APP_STORE",
                        format!("`{other}` is not embedded or dynamodb"),
                    ));
                }
            },
            objects: match var("APP_BUCKET") {
                Some(bucket) => ObjectsConfig::S3 { bucket },
                None => ObjectsConfig::Local,
            },
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
            uploads: UploadRules {
                max_bytes: parse(&var, "APP_UPLOAD_MAX_BYTES", 25 * 1024 * 1024u64)?,
                types: match list(var("APP_UPLOAD_TYPES")) {
                    types if types.is_empty() => DEFAULT_UPLOAD_TYPES.map(String::from).to_vec(),
                    types => types.into_iter().map(|t| t.to_ascii_lowercase()).collect(),
                },
            },
        })
    }
}

fn runtime(var: &impl Fn(&'static str) -> Option<String>) -> Result<Runtime, ConfigError> {
    let handler = var("APP_LAMBDA_HANDLER");
    if var("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Ok(Runtime::Server);
    }
    match handler.as_deref() {
        None | Some("http") => Ok(Runtime::LambdaHttp),
        Some("events") => Ok(Runtime::LambdaEvents),
        Some(other) => Err(bad(
            "APP_LAMBDA_HANDLER",
            format!("`{other}` is not http or events"),
        )),
    }
}

fn auth_config(var: &impl Fn(&'static str) -> Option<String>) -> Result<AuthConfig, ConfigError> {
    let token_use = var("APP_TOKEN_USE").unwrap_or_else(|| "access".into());
    if token_use != "access" && token_use != "id" {
        return Err(bad("APP_TOKEN_USE", "must be `access` or `id`"));
    }
    let cognito = cognito_pool(var)?;
    let client_ids = list(var("APP_COGNITO_CLIENT_IDS").or_else(|| var("APP_CLIENT_IDS")));
    if cognito.is_some() && client_ids.is_empty() {
        return Err(bad(
            "APP_COGNITO_CLIENT_IDS",
            "required with APP_COGNITO_USER_POOL_ID: the app clients whose tokens are accepted",
        ));
    }
    Ok(AuthConfig {
        issuer: var("APP_ISSUER")
            .or_else(|| cognito.as_ref().map(|pool| pool.issuer.clone()))
            .unwrap_or_else(|| LOCAL_ISSUER.into()),
        client_ids: match client_ids {
            ids if ids.is_empty() => vec![LOCAL_CLIENT_ID.into()],
            ids => ids,
        },
        token_use,
        jwks_url: var("APP_JWKS_URL").or_else(|| cognito.map(|pool| pool.jwks_url)),
        jwks_refetch_cooldown: duration(var, "APP_JWKS_REFETCH_COOLDOWN", Duration::from_secs(10))?,
        jwks_fetch_timeout: duration(var, "APP_JWKS_FETCH_TIMEOUT", Duration::from_secs(3))?,
    })
}

/// The issuer and JWKS URL of the Cognito user pool in
/// `APP_COGNITO_USER_POOL_ID`, in the region of `AWS_REGION` or, failing
/// that, the one the pool id starts with (`eu-west-1_AbC123`).
struct CognitoPool {
    issuer: String,
    jwks_url: String,
}

fn cognito_pool(
    var: &impl Fn(&'static str) -> Option<String>,
) -> Result<Option<CognitoPool>, ConfigError> {
    let Some(pool) = var("APP_COGNITO_USER_POOL_ID") else {
        return Ok(None);
    };
    let pool = pool.trim().to_string();
    let from_id = pool.split_once('_').map(|(region, _)| region.to_string());
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let Some(region) = var("AWS_REGION").or(from_id).filter(|r| valid(r)) else {
        return Err(bad(
            "APP_COGNITO_USER_POOL_ID",
            format!("`{pool}` is not a pool id like `eu-west-1_AbC123`"),
        ));
    };
    if !pool
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(
            "APP_COGNITO_USER_POOL_ID",
            format!("`{pool}` is not a pool id"),
        ));
    }
    let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    Ok(Some(CognitoPool {
        jwks_url: format!("{issuer}/.well-known/jwks.json"),
        issuer,
    }))
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn parse<T: std::str::FromStr>(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(text) => text.trim().parse().map_err(|e| bad(name, e)),
        None => Ok(default),
    }
}

fn duration(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match var(name) {
        Some(text) => parse_duration(&text).map_err(|e| bad(name, e)),
        None => Ok(default),
    }
}

/// `"300"` (seconds), `"300s"`, `"5m"`, `"1h 30m"`, `"250ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration ({e})"))
}

fn bad(name: &'static str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        name,
        problem: problem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<_, _> = vars.iter().copied().collect();
        Config::from_lookup(|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn nothing_set_is_the_embedded_default() {
        let c = config(&[]).unwrap();
        assert_eq!(c.store, StoreConfig::Embedded);
        assert_eq!(c.objects, ObjectsConfig::Local);
        assert!(!c.mail.ses && !c.uses_aws());
        assert_eq!(c.auth.issuer, LOCAL_ISSUER);
        assert!(c.auth.jwks_url.is_none());
    }

    #[test]
    fn host_and_port_make_the_address_unless_app_addr_is_set() {
        assert_eq!(config(&[]).unwrap().addr.to_string(), "127.0.0.1:3000");
        let container = config(&[("APP_HOST", "0.0.0.0"), ("PORT", "8080")]).unwrap();
        assert_eq!(container.addr.to_string(), "0.0.0.0:8080");
        let both = config(&[("APP_HOST", "0.0.0.0"), ("APP_ADDR", "127.0.0.1:9")]).unwrap();
        assert_eq!(both.addr.to_string(), "127.0.0.1:9");
        assert_eq!(
            config(&[("APP_HOST", "localhost")]).unwrap_err().name,
            "APP_HOST"
        );
    }

    #[test]
    fn lambda_is_chosen_by_the_runtime_api_variable() {
        assert_eq!(config(&[]).unwrap().runtime, Runtime::Server);
        let api = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        let http = config(&[api]).unwrap();
        assert_eq!(http.runtime, Runtime::LambdaHttp);
        assert_eq!(http.data_dir, PathBuf::from("/tmp/atrium"));
        assert!(http.log_json);
        let events = config(&[api, ("APP_LAMBDA_HANDLER", "events")]).unwrap();
        assert_eq!(events.runtime, Runtime::LambdaEvents);
        let wrong = config(&[api, ("APP_LAMBDA_HANDLER", "sqs")]).unwrap_err();
        assert_eq!(wrong.name, "APP_LAMBDA_HANDLER");
    }

    #[test]
    fn a_cognito_pool_gives_issuer_and_jwks_url() {
        let c = config(&[
            ("APP_COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
            ("APP_COGNITO_CLIENT_IDS", "app1, app2"),
        ])
        .unwrap();
        let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123";
        assert_eq!(c.auth.issuer, issuer);
        assert_eq!(
            c.auth.jwks_url.as_deref(),
            Some(format!("{issuer}/.well-known/jwks.json").as_str())
        );
        assert_eq!(c.auth.client_ids, ["app1", "app2"]);

        let emulated = config(&[
            ("APP_COGNITO_USER_POOL_ID", "us-east-1_x"),
            ("APP_COGNITO_CLIENT_IDS", "c"),
            (
                "APP_JWKS_URL",
                "http://127.0.0.1:5000/us-east-1_x/.well-known/jwks.json",
            ),
        ])
        .unwrap();
        assert!(
            emulated
                .auth
                .jwks_url
                .unwrap()
                .starts_with("http://127.0.0.1")
        );
        assert!(
            emulated
                .auth
                .issuer
                .starts_with("https://cognito-idp.us-east-1.")
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[&[(&str, &str)]] = &[
            &[("APP_STORE", "postgres")],
            &[("APP_COGNITO_USER_POOL_ID", "eu-west-1_AbC")],
            &[
                ("APP_COGNITO_USER_POOL_ID", "../evil"),
                ("APP_COGNITO_CLIENT_IDS", "c"),
            ],
            &[("APP_CACHE_TTL", "soon")],
        ];
        let expected = [
            "APP_STORE",
            "APP_COGNITO_CLIENT_IDS",
            "APP_COGNITO_USER_POOL_ID",
            "APP_CACHE_TTL",
        ];
        for (vars, name) in cases.iter().zip(expected) {
            assert_eq!(config(vars).unwrap_err().name, name, "{vars:?}");
        }
    }

    #[test]
    fn aws_backends_are_chosen_by_their_variables() {
        let c = config(&[
            ("APP_STORE", "dynamodb"),
            ("APP_BUCKET", "files"),
            ("APP_MAIL_FROM", "news@example.com"),
        ])
        .unwrap();
        assert_eq!(
            c.store,
            StoreConfig::Dynamo {
                table: "atrium".into()
            }
        );
        assert_eq!(
            c.objects,
            ObjectsConfig::S3 {
                bucket: "files".into()
            }
        );
        assert!(c.mail.ses && c.uses_aws());
    }
}
