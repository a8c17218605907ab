//! The local token issuer: Cognito's token shape, without Cognito.
//!
//! On first use it generates an RSA key pair in the data directory; the
//! server publishes the public half at `/.well-known/jwks.json`, and
//! `atrium token` signs access tokens with the private half. The server
//! verifies those tokens with exactly the code that verifies Cognito's: only
//! where the key set comes from differs.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::AuthConfig;
use super::verifier::Claims;
use crate::clock::now_epoch;

/// The local signing key and its published form.
pub struct LocalIssuer {
    kid: String,
    signing_key: EncodingKey,
    jwks: JwkSet,
}

/// The private key file, relative to the data directory.
const KEY_FILE: &str = "keys/local-signing-key.pem";

impl LocalIssuer {
    /// Loads the key pair from `data_dir`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let pem_text = crate::secret_file::load_or_create(&path, generate_key)?;
        Self::from_pem(&pem_text)
    }

    fn from_pem(pem_text: &[u8]) -> std::io::Result<Self> {
        let parsed = pem::parse(pem_text).map_err(invalid_data)?;
        let pair = KeyPair::from_pkcs8(parsed.contents()).map_err(invalid_data)?;
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public.n);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwks = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        }]});
        Ok(Self {
            kid,
            signing_key: EncodingKey::from_rsa_pem(pem_text).map_err(invalid_data)?,
            jwks: serde_json::from_value(jwks).map_err(invalid_data)?,
        })
    }

    /// The public key set, as `/.well-known/jwks.json` serves it.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Signs an access token for `username` with Cognito's claim shape.
    pub fn mint(
        &self,
        auth: &AuthConfig,
        username: &str,
        groups: &[String],
        ttl: Duration,
    ) -> String {
        let now = now_epoch();
        let claims = Claims {
            sub: local_sub(username),
            iss: auth.issuer.clone(),
            token_use: "access".into(),
            client_id: auth.client_ids.first().cloned(),
            aud: None,
            username: Some(username.into()),
            cognito_username: None,
            groups: groups.to_vec(),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            nbf: None,
            jti: Some(ulid::Ulid::new().to_string()),
        };
        self.sign(&claims)
    }

    /// Signs any claims with the local key (tests use it to forge bad tokens
    /// that are correctly signed).
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing_key)
            .expect("RS256 signing with a valid key")
    }
}

/// A stable, UUID-shaped subject for a local user name, as Cognito's `sub` is.
pub fn local_sub(username: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, username.as_bytes());
    let b = digest.as_ref();
    let hex: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn generate_key() -> std::io::Result<Vec<u8>> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(invalid_data)?;
    let der = pair.as_der().map_err(invalid_data)?;
    Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec())).into_bytes())
}

fn invalid_data(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}
