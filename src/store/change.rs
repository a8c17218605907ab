//! Change records: what one committed write did to one item, in the shape
//! of a DynamoDB Streams record with `NEW_AND_OLD_IMAGES`, whichever store
//! produced it. The embedded store's change feed records them; the Lambda
//! event mode decodes DynamoDB's into them.

use super::{Item, Key, Write};

/// What a committed write did to one item: a DynamoDB Streams record with
/// `NEW_AND_OLD_IMAGES`, whichever store produced it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangeRecord {
    pub kind: ChangeKind,
    pub key: Key,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

impl ChangeRecord {
    /// The record of `write` applied over `current` (the live item, if any);
    /// `None` when nothing changed (deleting what is not there).
    pub fn of(write: &Write, current: Option<&Item>) -> Option<Self> {
        let key = write.key()?;
        let old_image = current.cloned();
        match write {
            Write::Put { item, .. } => Some(Self {
                kind: if current.is_some() {
                    ChangeKind::Modify
                } else {
                    ChangeKind::Insert
                },
                key,
                new_image: Some(item.clone()),
                old_image,
            }),
            Write::Delete { .. } => current.map(|_| Self {
                kind: ChangeKind::Remove,
                key,
                new_image: None,
                old_image,
            }),
        }
    }
}
