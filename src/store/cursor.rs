//! Pagination: where a query stopped, as an opaque token a client carries
//! to the next page, honoured only on the query it came from.

use serde_json::{Map, Value};

use super::{Index, Item, Key, Query, StoreError, attr};

/// Where a query stopped: the key attributes of the last item returned
/// (DynamoDB's `LastEvaluatedKey`). Opaque to clients; see [`Cursor::encode`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(pub Vec<(String, String)>);

impl Cursor {
    /// The cursor positioned after `item` on `index`.
    pub fn after(item: &Item, index: Index) -> Self {
        let names: &[&str] = match index {
            Index::Primary => &[attr::PK, attr::SK],
            Index::Gsi1 => &[attr::PK, attr::SK, attr::GSI1PK, attr::GSI1SK],
        };
        Cursor(
            names
                .iter()
                .map(|n| {
                    let v = item.get(*n).and_then(Value::as_str).unwrap_or_default();
                    (n.to_string(), v.to_string())
                })
                .collect(),
        )
    }

    /// The cursor positioned after `key` on the primary index, whether or
    /// not an item is there.
    pub fn at(key: &Key) -> Self {
        Cursor(vec![
            (attr::PK.into(), key.pk.clone()),
            (attr::SK.into(), key.sk.clone()),
        ])
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The URL-safe text a client carries between pages.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let map: Map<String, Value> = self
            .0
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&map).expect("a map of strings serializes"))
    }

    /// Parses what [`Cursor::encode`] produced; anything else is `BadCursor`.
    /// Whether the cursor belongs to a query is checked by [`Cursor::check`].
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| StoreError::BadCursor)?;
        let map: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
        let pairs = map
            .into_iter()
            .map(|(n, v)| match v {
                Value::String(s) => Ok((n, s)),
                _ => Err(StoreError::BadCursor),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cursor(pairs))
    }

    /// A cursor is only honoured on the partition and sort prefix it came
    /// from, so a forged one can never read outside the caller's partition.
    pub fn check(&self, query: &Query) -> Result<(), StoreError> {
        let (part_attr, sort_attr) = match query.index {
            Index::Primary => (attr::PK, attr::SK),
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
        };
        let expected = match query.index {
            Index::Primary => 2,
            Index::Gsi1 => 4,
        };
        let same_partition = self.get(part_attr) == Some(query.partition.as_str());
        let in_range = self
            .get(sort_attr)
            .is_some_and(|s| s.starts_with(&query.sort_prefix));
        let keys_ok = self.0.len() == expected && self.get(attr::PK).is_some();
        if same_partition && in_range && keys_ok {
            Ok(())
        } else {
            Err(StoreError::BadCursor)
        }
    }
}
