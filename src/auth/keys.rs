//! Where verification keys come from: a JWKS URL (Cognito, or an emulator),
//! or the local issuer's own key pair.
//!
//! A remote key set is fetched lazily and kept. A token signed with a key id
//! we don't know triggers a refetch (Cognito rotates keys), but at most one
//! per cooldown, and concurrent refetches wait for the one in flight: a flood
//! of forged `kid`s can't turn us into a JWKS load generator.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use tokio::time::Instant;

/// Why no key could be found for a token.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key id isn't in the key set, even after a refetch.
    #[error("unknown key id")]
    UnknownKid,
    /// No key set could be fetched and none is cached.
    #[error("key set unavailable: {0}")]
    Unavailable(String),
}

type KeyMap = HashMap<String, Arc<DecodingKey>>;

/// The keys tokens may be signed with.
pub enum KeySource {
    /// A fixed set (the local issuer's public key).
    Fixed(KeyMap),
    /// A JWKS document fetched over HTTP.
    Remote(RemoteKeys),
}

impl KeySource {
    /// A fixed set from a JWKS document.
    pub fn fixed(set: &JwkSet) -> Self {
        Self::Fixed(rsa_keys(set))
    }

    /// Finds the key with id `kid`, fetching the set if needed.
    pub async fn find(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        match self {
            Self::Fixed(keys) => keys.get(kid).cloned().ok_or(KeyError::UnknownKid),
            Self::Remote(remote) => remote.find(kid).await,
        }
    }
}

/// A JWKS URL and what was last fetched from it.
pub struct RemoteKeys {
    url: String,
    http: reqwest::Client,
    keys: RwLock<Arc<KeyMap>>,
    /// Held while fetching, so concurrent misses share one fetch; holds the
    /// time of the last fetch for the cooldown.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    cooldown: Duration,
}

impl RemoteKeys {
    pub fn new(url: String, fetch_timeout: Duration, cooldown: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(fetch_timeout)
            .build()
            .expect("an HTTP client with a timeout builds");
        Self {
            url,
            http,
            keys: RwLock::new(Arc::default()),
            last_fetch: tokio::sync::Mutex::new(None),
            cooldown,
        }
    }

    fn cached(&self, kid: &str) -> (Option<Arc<DecodingKey>>, bool) {
        let keys = self.keys.read().expect("key lock is never poisoned");
        (keys.get(kid).cloned(), keys.is_empty())
    }

    async fn find(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        if let (Some(key), _) = self.cached(kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Someone else may have fetched while we waited for the lock.
        let (found, empty) = self.cached(kid);
        if let Some(key) = found {
            return Ok(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.cooldown) {
            return Err(if empty {
                KeyError::Unavailable("key set fetch failed recently".into())
            } else {
                KeyError::UnknownKid
            });
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let found = keys.get(kid).cloned();
                *self.keys.write().expect("key lock is never poisoned") = Arc::new(keys);
                found.ok_or(KeyError::UnknownKid)
            }
            Err(why) if empty => Err(KeyError::Unavailable(why)),
            Err(why) => {
                tracing::warn!(%why, "JWKS refetch failed; keeping the cached keys");
                Err(KeyError::UnknownKid)
            }
        }
    }

    async fn fetch(&self) -> Result<KeyMap, String> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let response = response.error_for_status().map_err(|e| e.to_string())?;
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        tracing::info!(keys = set.keys.len(), url = %self.url, "fetched JWKS");
        Ok(rsa_keys(&set))
    }
}

/// The RSA signing keys of a set that are usable for RS256, by key id. Keys
/// that declare another algorithm, or have no id, are left out.
fn rsa_keys(set: &JwkSet) -> KeyMap {
    set.keys
        .iter()
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|jwk| matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256)))
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, Arc::new(key)))
        })
        .collect()
}
