//! The parsing behind [`super::Config::from_lookup`]: one function per part that
//! needs more than a line, and the helpers that name the variable in every
//! error.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{ConfigError, DEFAULT_UPLOAD_TYPES, Runtime, StoreConfig, UploadRules};
use crate::auth::{AuthConfig, LOCAL_CLIENT_ID, LOCAL_ISSUER};
use crate::store::CacheConfig;

/// How a part reads one variable (blank counts as unset).
type Var<'a> = &'a dyn Fn(&'static str) -> Option<String>;

pub(super) fn address(var: Var) -> Result<SocketAddr, ConfigError> {
    let port = parse(&var, "PORT", 3000u16)?;
    let host = parse(&var, "APP_HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    match var("APP_ADDR") {
        Some(text) => text.parse().map_err(|e| bad("APP_ADDR", e)),
        None => Ok(SocketAddr::new(host, port)),
    }
}

pub(super) fn cache(var: Var) -> Result<CacheConfig, ConfigError> {
    Ok(CacheConfig {
        ttl: duration(&var, "APP_CACHE_TTL", Duration::from_secs(300))?,
        max_bytes: parse(&var, "APP_CACHE_MAX_BYTES", 128 * 1024 * 1024u64)?,
        ..CacheConfig::default()
    })
}

pub(super) fn log_json(var: Var, runtime: Runtime) -> Result<bool, ConfigError> {
    match var("APP_LOG_FORMAT").as_deref() {
        None => Ok(runtime != Runtime::Server),
        Some("json") => Ok(true),
        Some("text") => Ok(false),
        Some(other) => Err(bad(
            "APP_LOG_FORMAT",
            format!("`{other}` is not json or text"),
        )),
    }
}

pub(super) fn store(var: Var) -> Result<StoreConfig, ConfigError> {
    match var("APP_STORE").as_deref() {
        None | Some("embedded") => Ok(StoreConfig::Embedded),
        Some("dynamodb") => Ok(StoreConfig::Dynamo {
            table: var("APP_TABLE").unwrap_or_else(|| "atrium".into()),
        }),
        Some(other) => Err(bad(
            "APP_STORE",
            format!("`{other}` is not embedded or dynamodb"),
        )),
    }
}

pub(super) fn uploads(var: Var) -> Result<UploadRules, ConfigError> {
    Ok(UploadRules {
        max_bytes: parse(&var, "APP_UPLOAD_MAX_BYTES", 25 * 1024 * 1024u64)?,
        types: match list(var("APP_UPLOAD_TYPES")) {
            types if types.is_empty() => DEFAULT_UPLOAD_TYPES.map(String::from).to_vec(),
            types => types.into_iter().map(|t| t.to_ascii_lowercase()).collect(),
        },
    })
}

pub(super) fn runtime(var: Var) -> Result<Runtime, ConfigError> {
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

pub(super) fn auth(var: Var) -> Result<AuthConfig, ConfigError> {
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

fn cognito_pool(var: Var) -> Result<Option<CognitoPool>, ConfigError> {
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

pub(super) fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn parse<T: std::str::FromStr>(
    var: Var,
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

pub(super) fn duration(
    var: Var,
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

pub(super) fn bad(name: &'static str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        name,
        problem: problem.to_string(),
    }
}
