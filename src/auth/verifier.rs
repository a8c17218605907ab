//! Verifies Cognito user-pool tokens (and local tokens of the same shape).
//!
//! The checks, in order: the header names RS256 (nothing else: not `none`, not
//! HS256 keyed with our public key) and a `kid`; the key with that id exists
//! in the key set; the signature; `exp` (required), `nbf` and `iat` with a
//! small leeway; `iss` exactly; `token_use`; and the app client (`client_id`
//! for access tokens, `aud` for id tokens) in the allow-list.
//!
//! A verified token is remembered until it expires (or its room is needed),
//! so a busy client costs one RSA verification, not one per request.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use super::AuthConfig;
use super::keys::{KeyError, KeySource};
use crate::bounded::{Bounded, DefaultLifecycle, Weighter, bounded};
use crate::clock::now_epoch;
use crate::ids::UserId;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;

/// The claims we read from a Cognito token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub token_use: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Access tokens carry `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Id tokens carry `cognito:username`.
    #[serde(
        rename = "cognito:username",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cognito_username: Option<String>,
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// The user's name, from whichever claim this kind of token carries.
    pub fn username(&self) -> &str {
        self.username
            .as_deref()
            .or(self.cognito_username.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// A verified token: its claims, and its subject as a user id (parsed
/// once, when verified, not on every request that shows the token).
#[derive(Debug)]
pub struct Verified {
    pub claims: Claims,
    pub user: UserId,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is not acceptable (→ 401); the reason is for logs and the client.
    #[error("{0}")]
    Invalid(String),
    /// The keys could not be obtained (→ 503).
    #[error("{0}")]
    KeysUnavailable(String),
}

/// Checks tokens against one user pool's keys and rules.
pub struct Verifier {
    keys: KeySource,
    config: AuthConfig,
    validation: Validation,
    verified: Remembered,
}

/// Verified tokens, bounded in bytes: a token is about a kilobyte, so a
/// bound in entries would not bound memory. Looked up on every signed-in
/// request.
type Remembered = Bounded<Box<str>, Arc<Verified>, ByLength>;

/// Room for about 12,000 tokens in use at once.
const REMEMBERED_BYTES: u64 = 16 * 1024 * 1024;

/// What a remembered token costs beyond its text: its claims, the cache's
/// slot, the allocator's rounding.
const REMEMBERED_OVERHEAD: u64 = 512;

#[derive(Clone)]
struct ByLength;

impl Weighter<Box<str>, Arc<Verified>> for ByLength {
    fn weight(&self, token: &Box<str>, _: &Arc<Verified>) -> u64 {
        token.len() as u64 + REMEMBERED_OVERHEAD
    }
}

impl Verifier {
    pub fn new(keys: KeySource, config: AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false; // checked below: access tokens have no `aud`
        validation.set_issuer(&[&config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            keys,
            config,
            validation,
            verified: bounded(REMEMBERED_BYTES, ByLength, DefaultLifecycle::default()),
        }
    }

    /// Verifies a bearer token and returns its claims and user id.
    pub async fn verify(&self, token: &str) -> Result<Arc<Verified>, VerifyError> {
        if let Some(verified) = self.verified.get(token) {
            if verified.claims.exp > now_epoch() {
                return Ok(verified);
            }
            self.verified.remove(token);
        }
        let claims = self.verify_uncached(token).await?;
        let user = claims
            .sub
            .parse()
            .map_err(|_| invalid("the token's subject is not a user id"))?;
        let verified = Arc::new(Verified { claims, user });
        self.verified.insert(Box::from(token), verified.clone());
        Ok(verified)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = decode_header(token).map_err(|e| invalid(format!("malformed token: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("token algorithm must be RS256"));
        }
        let kid = header.kid.ok_or_else(|| invalid("token has no key id"))?;
        let key = self.keys.find(&kid).await.map_err(|e| match e {
            KeyError::UnknownKid => invalid("token signed with an unknown key"),
            KeyError::Unavailable(why) => VerifyError::KeysUnavailable(why),
        })?;
        let claims = decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| invalid(format!("token rejected: {e}")))?
            .claims;
        self.check_claims(&claims)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims) -> Result<(), VerifyError> {
        if claims
            .iat
            .is_some_and(|iat| iat > now_epoch() + LEEWAY_SECS)
        {
            return Err(invalid("token issued in the future"));
        }
        if claims.token_use != self.config.token_use {
            return Err(invalid(format!(
                "an {} token is required",
                self.config.token_use
            )));
        }
        let client = match claims.token_use.as_str() {
            "access" => claims.client_id.as_deref(),
            _ => claims.aud.as_deref(),
        };
        if !client.is_some_and(|c| self.config.client_ids.iter().any(|id| id == c)) {
            return Err(invalid("token issued to another app client"));
        }
        Ok(())
    }
}

fn invalid(why: impl Into<String>) -> VerifyError {
    VerifyError::Invalid(why.into())
}
