//! Tokens: verifying Cognito user-pool JWTs (and local ones of the same
//! shape), fetching and caching the key set, and the local issuer that
//! stands in for Cognito on a laptop.
//!
//! Pure: no HTTP types here. The middleware that reads `Authorization` and
//! the `User` extractor live in [`crate::http::auth`]; this module only
//! answers "whose token is this, and is it valid?".

mod keys;
mod local;
mod verifier;

pub use keys::{KeySource, RemoteKeys};
pub use local::{LocalIssuer, local_sub};
pub use verifier::{Claims, LEEWAY_SECS, Verified, Verifier, VerifyError};

use std::time::Duration;

/// Which tokens are accepted, and where their keys come from.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The exact `iss` claim expected.
    pub issuer: String,
    /// Accepted app clients: `client_id` of access tokens, `aud` of id tokens.
    pub client_ids: Vec<String>,
    /// `access` (default) or `id`.
    pub token_use: String,
    /// Fetch keys from this JWKS URL; `None` = the local issuer's own key.
    pub jwks_url: Option<String>,
    /// At most one JWKS refetch per this interval for unknown key ids.
    pub jwks_refetch_cooldown: Duration,
    /// Give up on a JWKS fetch after this long.
    pub jwks_fetch_timeout: Duration,
}

/// The issuer of locally minted tokens when no Cognito pool is configured.
pub const LOCAL_ISSUER: &str = "urn:atrium:local-issuer";
/// The app client of locally minted tokens.
pub const LOCAL_CLIENT_ID: &str = "atrium-local-client";
