//! Sync tokens: where a device stands in its todos' change log, as opaque
//! text it keeps between syncs.
//!
//! A token is signed (HMAC-SHA256) over the caller's id and its content, so
//! a modified token, or one issued to another user, is refused with 400
//! rather than read. The key is a secret the service keeps in its own table
//! and creates on first use: every instance shares it with no
//! configuration, and whoever can read the table could read the todos
//! themselves anyway.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::secret_file::random_bytes;
use crate::store::{self, Condition, Item, Read, StoreError, Table, Write};

/// Where a device stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// Part-way through a full snapshot taken at change `base`, after the
    /// todo `after` (none before the first page).
    Snapshot { base: u64, after: Option<TodoId> },
    /// Has seen every change up to number `since`.
    Delta { since: u64 },
}

/// A position, when it was handed out (epoch seconds), and in which log
/// (the counter's `log`; none for logs older than that number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncToken {
    pub position: Position,
    pub issued: u64,
    pub log: Option<u64>,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadToken;

/// The key tokens are signed with.
pub struct TokenKey(hmac::Key);

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// Reads the service's token secret from `table`, creating it if this is
    /// the first instance ever to need it (whichever creator wins, all use
    /// its secret).
    pub async fn load(table: &dyn Table) -> Result<Self, StoreError> {
        let key = keys::secret("sync-token");
        for _ in 0..2 {
            if let Some(item) = table.get(&key, Read::Strong).await? {
                let secret = item
                    .get("secret")
                    .and_then(Value::as_str)
                    .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
                    .ok_or_else(|| StoreError::Internal("unreadable sync-token secret".into()))?;
                return Ok(Self::new(&secret));
            }
            let secret = random_bytes(32).map_err(|e| StoreError::Internal(e.to_string()))?;
            let mut item = Item::new();
            item.insert("secret".into(), URL_SAFE_NO_PAD.encode(&secret).into());
            item.insert(store::attr::PK.into(), key.pk.clone().into());
            item.insert(store::attr::SK.into(), key.sk.clone().into());
            let created = Write::Put {
                item,
                condition: Condition::NotExists,
            };
            if table.write_if(created).await? {
                return Ok(Self::new(&secret));
            }
        }
        Err(StoreError::Internal(
            "the sync-token secret could not be kept".into(),
        ))
    }

    /// The token's text: its content, a dot, and its signature.
    pub fn seal(&self, user: &UserId, token: &SyncToken) -> String {
        let content = content(token);
        let tag = hmac::sign(&self.0, &signed_text(user, &content));
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&content),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The token in `text`, if this service sealed it for `user`.
    pub fn open(&self, user: &UserId, text: &str) -> Result<SyncToken, BadToken> {
        let (content, tag) = text.split_once('.').ok_or(BadToken)?;
        let content = URL_SAFE_NO_PAD.decode(content).map_err(|_| BadToken)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| BadToken)?;
        hmac::verify(&self.0, &signed_text(user, &content), &tag).map_err(|_| BadToken)?;
        parse(std::str::from_utf8(&content).map_err(|_| BadToken)?)
    }
}

fn signed_text(user: &UserId, content: &[u8]) -> Vec<u8> {
    let mut text = format!("{user}\n").into_bytes();
    text.extend_from_slice(content);
    text
}

/// `d.{since}.{issued}.{log}` or `s.{base}.{issued}.{after}.{log}` (`after`
/// empty before the first page, `log` empty when the log has no number).
/// Tokens handed out before logs were numbered lack the last part.
fn content(token: &SyncToken) -> Vec<u8> {
    let issued = token.issued;
    let log = token.log.map(|n| n.to_string()).unwrap_or_default();
    match &token.position {
        Position::Delta { since } => format!("d.{since}.{issued}.{log}"),
        Position::Snapshot { base, after } => {
            let after = after.map(|id| id.to_string()).unwrap_or_default();
            format!("s.{base}.{issued}.{after}.{log}")
        }
    }
    .into_bytes()
}

fn parse(text: &str) -> Result<SyncToken, BadToken> {
    let mut parts = text.split('.');
    let kind = parts.next();
    let number = parts.next().and_then(|n| n.parse().ok()).ok_or(BadToken)?;
    let issued = parts.next().and_then(|n| n.parse().ok()).ok_or(BadToken)?;
    let position = match kind {
        Some("d") => Position::Delta { since: number },
        Some("s") => Position::Snapshot {
            base: number,
            after: match parts.next().ok_or(BadToken)? {
                "" => None,
                id => Some(id.parse().map_err(|_| BadToken)?),
            },
        },
        _ => return Err(BadToken),
    };
    let log = match parts.next() {
        None | Some("") => None,
        Some(n) => Some(n.parse().map_err(|_| BadToken)?),
    };
    match parts.next() {
        None => Ok(SyncToken {
            position,
            issued,
            log,
        }),
        Some(_) => Err(BadToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_unchanged_and_for_their_own_user() {
        let key = TokenKey::new(b"secret");
        let (alice, bob): (UserId, UserId) = ("alice".parse().unwrap(), "bob".parse().unwrap());
        let tokens = [
            SyncToken {
                position: Position::Delta { since: 42 },
                issued: 1_800_000_000,
                log: Some(u64::MAX),
            },
            SyncToken {
                position: Position::Snapshot {
                    base: 7,
                    after: Some(TodoId::new()),
                },
                issued: 1,
                log: Some(3),
            },
            SyncToken {
                position: Position::Snapshot {
                    base: 0,
                    after: None,
                },
                issued: 1,
                log: None,
            },
        ];
        for token in tokens {
            let text = key.seal(&alice, &token);
            assert_eq!(key.open(&alice, &text), Ok(token));
            assert_eq!(key.open(&bob, &text), Err(BadToken), "another user's");
            assert_eq!(TokenKey::new(b"other").open(&alice, &text), Err(BadToken));
            let mut forged = text.into_bytes();
            forged[1] ^= 1;
            let forged = String::from_utf8(forged).unwrap();
            assert_eq!(key.open(&alice, &forged), Err(BadToken), "modified");
        }
        assert_eq!(key.open(&alice, "not a token"), Err(BadToken));
        assert_eq!(parse("d.5.9.x"), Err(BadToken), "a log is a number");
        assert_eq!(key.open(&alice, ""), Err(BadToken));
    }

    #[test]
    fn tokens_from_before_logs_were_numbered_still_open() {
        let delta = parse("d.5.100").unwrap();
        assert_eq!(
            (delta.position, delta.log),
            (Position::Delta { since: 5 }, None)
        );
        let snapshot = parse("s.7.100.").unwrap();
        let first_page = Position::Snapshot {
            base: 7,
            after: None,
        };
        assert_eq!((snapshot.position, snapshot.log), (first_page, None));
    }
}
