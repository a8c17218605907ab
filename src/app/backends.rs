//! The backends a configuration names, opened once at start-up: the table
//! (embedded or DynamoDB) behind its read cache, the object store (local
//! files or S3), the mailer (outbox or SES v2) and the token verifier (the
//! local issuer's key, or a Cognito pool's JWKS). AWS clients are built
//! here from one SDK configuration and shared. Nothing is spawned here: the
//! work some backends need in the background is [`super::workers`]'.

use std::sync::Arc;

use crate::auth::{KeySource, LocalIssuer, RemoteKeys, Verifier};
use crate::config::{Config, ObjectsConfig, StoreConfig};
use crate::mail::{Counted, Mailer, OutboxMailer, SesMailer};
use crate::objects::site::{LocalSite, S3Site, SiteStore};
use crate::objects::{LocalObjects, ObjectStore, S3Objects};
use crate::store::{CachedTable, ChangeFeed, DynamoTable, EmbeddedTable, StoreError, Table};
use crate::tally::Tally;

/// Every backend of one process.
pub struct Backends {
    /// The item store, behind the read cache.
    pub table: Arc<dyn Table>,
    /// The same cache, for its figures on `/metrics`.
    pub cache: Arc<CachedTable>,
    /// Files: S3 or the local directory.
    pub objects: Arc<dyn ObjectStore>,
    /// The local object store when it is the active one (its URLs are served
    /// by this process, and it notifies this process of uploads).
    pub local_objects: Option<Arc<LocalObjects>>,
    /// The generated website: the site bucket or a local directory.
    pub site: Arc<dyn SiteStore>,
    /// The local directory when it is the site store (served at `/`).
    pub local_site: Option<Arc<LocalSite>>,
    /// Outgoing mail: SES v2 or the local outbox, counted.
    pub mailer: Arc<dyn Mailer>,
    /// What was done outside requests, for `/metrics` and EMF.
    pub tally: Tally,
    /// Checks bearer tokens.
    pub verifier: Arc<Verifier>,
    /// Present when tokens are minted locally (no Cognito configured).
    pub local_issuer: Option<Arc<LocalIssuer>>,
    /// The embedded store and its change feed, when it is the active store
    /// (its purger and the feed's consumer are workers).
    pub(super) embedded: Option<(EmbeddedTable, ChangeFeed)>,
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

impl Backends {
    /// Opens the backends that `config` names.
    pub async fn open(config: &Config) -> Result<Self, StartError> {
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
        let (backend, embedded): (Arc<dyn Table>, _) = match (&config.store, &sdk) {
            (StoreConfig::Dynamo { table }, Some(sdk)) => {
                let client = aws_sdk_dynamodb::Client::new(sdk);
                (Arc::new(DynamoTable::new(client, table)), None)
            }
            _ => {
                let opened = EmbeddedTable::open(&dir.join("store.redb"))?;
                let (table, feed) = opened.with_change_feed();
                (Arc::new(table.clone()), Some((table, feed)))
            }
        };
        let cache = Arc::new(CachedTable::new(backend, &config.cache));
        let (objects, local_objects) = objects(config, sdk.as_ref())?;
        let (verifier, local_issuer) = verifier(config)?;
        let (site, local_site) = site(config, sdk.as_ref())?;
        let tally = Tally::default();
        Ok(Self {
            table: cache.clone(),
            cache,
            objects,
            local_objects,
            site,
            local_site,
            mailer: Arc::new(Counted::new(
                mailer(config, sdk.as_ref()),
                tally.emails_sent.clone(),
            )),
            tally,
            verifier: Arc::new(verifier),
            local_issuer,
            embedded,
        })
    }

    /// One line for the start-up log: which backends are active.
    pub fn describe(&self, config: &Config) -> String {
        let auth = match &config.auth.jwks_url {
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

/// An S3 client; emulators answer on one host, so buckets go in the path there.
fn s3_client(config: &Config, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.aws.endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

type Objects = (Arc<dyn ObjectStore>, Option<Arc<LocalObjects>>);

fn objects(config: &Config, sdk: Option<&aws_config::SdkConfig>) -> Result<Objects, StartError> {
    if let (ObjectsConfig::S3 { bucket }, Some(sdk)) = (&config.objects, sdk) {
        let store = S3Objects::new(s3_client(config, sdk), bucket);
        return Ok((Arc::new(store), None));
    }
    let local = LocalObjects::open(&config.data_dir, config.public_url.clone())
        .map_err(StartError::Objects)?;
    let local = Arc::new(local);
    Ok((local.clone(), Some(local)))
}

type Site = (Arc<dyn SiteStore>, Option<Arc<LocalSite>>);

fn site(config: &Config, sdk: Option<&aws_config::SdkConfig>) -> Result<Site, StartError> {
    if let (Some(bucket), Some(sdk)) = (&config.site_bucket, sdk) {
        return Ok((Arc::new(S3Site::new(s3_client(config, sdk), bucket)), None));
    }
    let local = LocalSite::open(&config.data_dir.join("site")).map_err(StartError::Objects)?;
    let local = Arc::new(local);
    Ok((local.clone(), Some(local)))
}

fn mailer(config: &Config, sdk: Option<&aws_config::SdkConfig>) -> Arc<dyn Mailer> {
    match sdk {
        Some(sdk) if config.mail.ses => Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(sdk),
            &config.mail.from,
        )),
        _ => Arc::new(OutboxMailer::new(
            &config.data_dir.join("outbox"),
            &config.mail.from,
        )),
    }
}

fn verifier(config: &Config) -> Result<(Verifier, Option<Arc<LocalIssuer>>), StartError> {
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
            let issuer =
                LocalIssuer::load_or_create(&config.data_dir).map_err(StartError::SigningKey)?;
            (KeySource::fixed(issuer.jwks()), Some(Arc::new(issuer)))
        }
    };
    Ok((Verifier::new(keys, config.auth.clone()), local_issuer))
}
