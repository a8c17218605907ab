//! A stored subscriber, and the secrets of its unsubscribe link.
//!
//! The link carries `base64url(email).base64url(secret)`; only a SHA-256
//! hash of the secret is stored, and it is compared in constant time, so a
//! tampered or guessed link never unsubscribes anyone.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::ids::EmailAddress;
use crate::keys;
use crate::store::{Item, Read, StoreError, Table};

/// A stored subscriber.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscriber {
    pub email: EmailAddress,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_sent_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe_hash: Option<String>,
}

pub fn to_item(subscriber: &Subscriber) -> Item {
    crate::store::encode(subscriber, &keys::subscriber(&subscriber.email))
}

/// The subscriber at `email`, read past the cache.
pub async fn load(
    table: &dyn Table,
    email: &EmailAddress,
) -> Result<Option<Subscriber>, StoreError> {
    let Some(item) = table.get(&keys::subscriber(email), Read::Strong).await? else {
        return Ok(None);
    };
    crate::store::decode(&item)
        .map(Some)
        .map_err(|e| StoreError::Internal(format!("stored subscriber: {e}")))
}

pub fn hash_secret(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// A new unsubscribe token for `email`, and the hash to store.
pub fn new_token(email: &EmailAddress) -> (String, String) {
    let secret = crate::secret_file::random_bytes(18).expect("the system RNG works");
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let token = format!("{}.{secret}", URL_SAFE_NO_PAD.encode(email.as_str()));
    (token, hash_secret(&secret))
}
