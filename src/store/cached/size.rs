//! The cache's budget is in bytes of memory: what an entry is estimated to
//! hold on the heap. (An earlier estimate, the item's JSON length, counted
//! a third of it: 64 MiB of "JSON" held about 200 MiB.)

use std::mem::size_of;

use serde_json::Value;

use crate::store::{Item, Key};

/// A map entry's share of its tree's nodes, beyond the key and value.
const MAP_ENTRY_OVERHEAD: usize = 16;

/// What a key costs in the byte budget, with a cache entry's overhead.
pub(super) fn key_len(key: &Key) -> usize {
    key.pk.capacity() + key.sk.capacity() + 2 * size_of::<String>() + 64
}

/// The heap bytes an item holds: its map's entries, their keys and values.
pub(super) fn item_len(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| entry_len(name, value))
        .sum::<usize>()
        + size_of::<Item>()
}

fn entry_len(name: &String, value: &Value) -> usize {
    size_of::<String>()
        + name.capacity()
        + size_of::<Value>()
        + value_len(value)
        + MAP_ENTRY_OVERHEAD
}

/// The heap bytes below a value (its own size is counted by its parent).
fn value_len(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(text) => text.capacity(),
        Value::Array(values) => {
            values.capacity() * size_of::<Value>() + values.iter().map(value_len).sum::<usize>()
        }
        Value::Object(map) => map.iter().map(|(name, value)| entry_len(name, value)).sum(),
    }
}
