//! The byte keys of the embedded store's tables: parts joined by NUL (so a
//! key attribute may not hold one), expiry times big-endian so that they
//! sort by time.

use serde_json::Value;

use crate::store::{Cursor, Index, Item, Key, StoreError, attr};

/// `a \0 b \0 ...`, refusing parts that contain NUL.
pub(super) fn join(parts: &[&str]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if part.contains('\0') {
            return Err(StoreError::BadItem(
                "key attributes may not contain NUL".into(),
            ));
        }
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(part.as_bytes());
    }
    Ok(out)
}

pub(super) fn item_id(pk: &str, sk: &str) -> Result<Vec<u8>, StoreError> {
    join(&[pk, sk])
}

pub(super) fn gsi_id(key: &Key, item: &Item) -> Result<Option<Vec<u8>>, StoreError> {
    let part = item.get(attr::GSI1PK).and_then(Value::as_str);
    let sort = item.get(attr::GSI1SK).and_then(Value::as_str);
    match (part, sort) {
        (Some(p), Some(s)) => Ok(Some(join(&[p, s, &key.pk, &key.sk])?)),
        _ => Ok(None),
    }
}

/// The `items` key a GSI entry points at: its last two parts.
pub(super) fn gsi_target(gsi_key: &[u8]) -> Vec<u8> {
    let mut parts = gsi_key.splitn(3, |b| *b == 0);
    parts.next();
    parts.next();
    parts.next().unwrap_or_default().to_vec()
}

pub(super) fn expiry_id(at: u64, key: &Key) -> Result<Vec<u8>, StoreError> {
    let mut id = at.to_be_bytes().to_vec();
    id.extend(item_id(&key.pk, &key.sk)?);
    Ok(id)
}

pub(super) fn cursor_id(cursor: &Cursor, index: Index) -> Result<Vec<u8>, StoreError> {
    let get = |name| cursor.get(name).ok_or(StoreError::BadCursor);
    match index {
        Index::Primary => join(&[get(attr::PK)?, get(attr::SK)?]),
        Index::Gsi1 => join(&[
            get(attr::GSI1PK)?,
            get(attr::GSI1SK)?,
            get(attr::PK)?,
            get(attr::SK)?,
        ]),
    }
    .map_err(|_| StoreError::BadCursor)
}
