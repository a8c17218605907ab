//! The application state every handler receives: built once at start-up.
//!
//! `AppState` is a cheap handle (`Arc`) to one [`App`]; resource code reaches
//! the table, the object store, the mailer, the verifier and the metrics
//! through it and never learns which backends are behind them. AWS clients
//! are built here once, from one SDK configuration, and shared.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{KeySource, LocalIssuer, RemoteKeys, Verifier};
use crate::config::{Config, ObjectsConfig, StoreConfig};
use crate::mail::{Mailer, OutboxMailer, SesMailer};
use crate::metrics::Metrics;
use crate::objects::{LocalObjects, ObjectStore, S3Objects};
use crate::ratelimit::RateLimiter;
use crate::store::{CachedTable, DynamoTable, EmbeddedTable, StoreError, Table};

/// A handle to the one [`App`] of this process.
#[derive(Clone)]
pub struct AppState(Arc<App>);

/// Everything that lives as long as the process.
pub struct App {
    /// The configuration the process started with.
    pub config: Config,
    /// The item store, behind the read cache.
    pub table: Arc<dyn Table>,
    /// The same cache, for its figures on `/metrics`.
    pub cache: Arc<CachedTable>,
    /// Files: S3 or the local directory.
    pub objects: Arc<dyn ObjectStore>,
    /// The local object store when it is the active one (its URLs are served
    /// by this process).
    pub local_objects: Option<Arc<LocalObjects>>,
    /// Outgoing mail: SES v2 or the local outbox.
    pub mailer: Arc<dyn Mailer>,
    /// Checks bearer tokens.
    pub verifier: Verifier,
    /// Present when tokens are minted locally (no Cognito configured).
    pub local_issuer: Option<Arc<LocalIssuer>>,
    /// Request and cache figures.
    pub metrics: Metrics,
    /// The per-address budget of `POST /blog/subscribers`.
    pub subscribe_limiter: RateLimiter,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Why the process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("local signing key: {0}")]
    SigningKey(std::io::Error),
    #[error("local object store: {0}")]
    Objects(std::io::Error),
    #[error("AWS backends need a region: set AWS_REGION")]
    NoRegion,
}

/// How often expired items are purged from the embedded store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

impl AppState {
    /// Opens the backends that `config` names.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::DataDir(dir.display().to_string(), e))?;
        let sdk = match config.uses_aws() {
            true => Some(crate::aws::load(&config.aws).await),
            false => None,
        };
        if sdk.as_ref().is_some_and(|sdk| sdk.region().is_none()) {
            return Err(StartError::NoRegion);
        }
        let (backend, feed): (Arc<dyn Table>, _) = match (&config.store, &sdk) {
            (StoreConfig::Dynamo { table }, Some(sdk)) => {
                let client = aws_sdk_dynamodb::Client::new(sdk);
                (Arc::new(DynamoTable::new(client, table)), None)
            }
            _ => {
                let (embedded, feed) =
                    EmbeddedTable::open(&dir.join("store.redb"))?.with_change_feed();
                embedded.spawn_purger(PURGE_EVERY);
                (Arc::new(embedded), Some(feed))
            }
        };
        let cache = Arc::new(CachedTable::new(backend, &config.cache));
        let (objects, local_objects) = objects(&config, sdk.as_ref())?;
        let mailer: Arc<dyn Mailer> = match &sdk {
            Some(sdk) if config.mail.ses => Arc::new(SesMailer::new(
                aws_sdk_sesv2::Client::new(sdk),
                &config.mail.from,
            )),
            _ => Arc::new(OutboxMailer::new(&dir.join("outbox"), &config.mail.from)),
        };
        let (keys, local_issuer) = match &config.auth.jwks_url {
            Some(url) => {
                let remote = RemoteKeys::new(
                    url.clone(),
                    config.auth.jwks_fetch_timeout,
                    config.auth.jwks_refetch_cooldown,
                );
                (KeySource::Remote(remote), None)
            }
            None => {
                let issuer = LocalIssuer::load_or_create(dir).map_err(StartError::SigningKey)?;
                (KeySource::fixed(issuer.jwks()), Some(Arc::new(issuer)))
            }
        };
        let metrics = Metrics::new(cache.stats());
        let subscribe_limiter =
            RateLimiter::new(config.blog.subscribe_limit, config.blog.subscribe_window);
        let state = Self(Arc::new(App {
            verifier: Verifier::new(keys, config.auth.clone()),
            table: cache.clone(),
            cache,
            objects,
            local_objects,
            mailer,
            local_issuer,
            metrics,
            subscribe_limiter,
            config,
        }));
        // Locally, changes reach their reactions through the store's own feed
        // (on AWS, DynamoDB Streams invokes the Lambda event mode instead).
        if let Some(feed) = feed {
            crate::events::spawn_local_feed(feed, state.clone());
        }
        Ok(state)
    }

    /// One line for the start-up log: which backends are active.
    pub fn describe(&self) -> String {
        let auth = match &self.config.auth.jwks_url {
            Some(url) => format!("tokens verified against {url}"),
            None => "local token issuer".into(),
        };
        format!(
            "store: {}; files: {}; mail: {}; auth: {auth}",
            self.table.describe(),
            self.objects.describe(),
            self.mailer.describe()
        )
    }
}

type Objects = (Arc<dyn ObjectStore>, Option<Arc<LocalObjects>>);

fn objects(config: &Config, sdk: Option<&aws_config::SdkConfig>) -> Result<Objects, StartError> {
    if let (ObjectsConfig::S3 { bucket }, Some(sdk)) = (&config.objects, sdk) {
        // Emulators answer on one host, so address buckets by path there.
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.aws.endpoint_url.is_some())
            .build();
        let store = S3Objects::new(aws_sdk_s3::Client::from_conf(s3), bucket);
        return Ok((Arc::new(store), None));
    }
    let local = LocalObjects::open(&config.data_dir, config.public_url.clone())
        .map_err(StartError::Objects)?;
    let local = Arc::new(local);
    Ok((local.clone(), Some(local)))
}
