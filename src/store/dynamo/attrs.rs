//! Items as JSON on our side, attribute maps on DynamoDB's: the two
//! translations, exact both ways (numbers keep their text).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Number, Value};

use crate::store::{Cursor, Item, Key, StoreError, attr};

/// DynamoDB's item as the SDK carries it.
pub(super) type AttrMap = HashMap<String, AttributeValue>;

pub(super) fn key_map(key: &Key) -> AttrMap {
    HashMap::from([
        (attr::PK.to_string(), AttributeValue::S(key.pk.clone())),
        (attr::SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(super) fn cursor_map(cursor: &Cursor) -> AttrMap {
    cursor
        .0
        .iter()
        .map(|(name, value)| (name.clone(), AttributeValue::S(value.clone())))
        .collect()
}

/// JSON → DynamoDB: strings, numbers, booleans, null, lists and maps map
/// one to one.
pub(super) fn to_attr(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s),
        Value::Array(list) => AttributeValue::L(list.into_iter().map(to_attr).collect()),
        Value::Object(map) => AttributeValue::M(to_attr_map(map)),
    }
}

pub(super) fn to_attr_map(item: Item) -> AttrMap {
    item.into_iter().map(|(k, v)| (k, to_attr(v))).collect()
}

/// DynamoDB → JSON. Sets (which this service never writes) read as lists,
/// binary as base64 text.
pub(super) fn from_attr(value: AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::N(n) => Value::Number(number(&n)?),
        AttributeValue::S(s) => Value::String(s),
        AttributeValue::L(list) => {
            Value::Array(list.into_iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(from_attr_map(map)?),
        AttributeValue::Ss(set) => Value::Array(set.into_iter().map(Value::String).collect()),
        AttributeValue::Ns(set) => Value::Array(
            set.iter()
                .map(|n| number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(blob) => Value::String(base64_of(&blob)),
        AttributeValue::Bs(set) => {
            Value::Array(set.iter().map(|b| Value::String(base64_of(b))).collect())
        }
        other => return Err(StoreError::Internal(format!("unknown attribute {other:?}"))),
    })
}

pub(super) fn from_attr_map(map: AttrMap) -> Result<Item, StoreError> {
    map.into_iter()
        .map(|(k, v)| Ok((k, from_attr(v)?)))
        .collect()
}

pub(super) fn number(text: &str) -> Result<Number, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Internal(format!("number {text} does not fit JSON")))
}

pub(super) fn base64_of(blob: &Blob) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let item = json!({"PK": "USER#1", "n": 42, "f": 1.5, "neg": -7, "b": true,
            "none": null, "list": [1, "two", {"three": 3}], "map": {"a": [false]}});
        let Value::Object(item) = item else { panic!() };
        assert_eq!(from_attr_map(to_attr_map(item.clone())).unwrap(), item);
    }
}
