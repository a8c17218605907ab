//! The application state every handler receives: built once at start-up.
//!
//! `AppState` is a cheap handle (`Arc`) to one [`App`]; resource code reaches
//! the table, the verifier and the metrics through it and never learns which
//! backends are behind them.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{KeySource, LocalIssuer, RemoteKeys, Verifier};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{CachedTable, EmbeddedTable, StoreError, Table};

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
    /// Checks bearer tokens.
    pub verifier: Verifier,
    /// Present when tokens are minted locally (no Cognito configured).
    pub local_issuer: Option<Arc<LocalIssuer>>,
    /// Request and cache figures.
    pub metrics: Metrics,
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
}

/// How often expired items are purged from the embedded store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

impl AppState {
    /// Opens the backends that `config` names.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::DataDir(dir.display().to_string(), e))?;
        let embedded = EmbeddedTable::open(&dir.join("store.redb"))?;
        embedded.spawn_purger(PURGE_EVERY);
        let cache = Arc::new(CachedTable::new(Arc::new(embedded), &config.cache));

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
        Ok(Self(Arc::new(App {
            verifier: Verifier::new(keys, config.auth.clone()),
            table: cache.clone(),
            cache,
            local_issuer,
            metrics,
            config,
        })))
    }

    /// One line for the start-up log: which backends are active.
    pub fn describe(&self) -> String {
        let auth = match &self.config.auth.jwks_url {
            Some(url) => format!("tokens verified against {url}"),
            None => "local token issuer".into(),
        };
        format!("store: {}; auth: {auth}", self.table.describe())
    }
}
