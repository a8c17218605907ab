//! DynamoDB expressions: a write's condition, and a query's key condition
//! and filter, each naming exactly the attributes and values it uses.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::AttrMap;
use super::attrs::to_attr;
use serde_json::Value;

use crate::store::{Condition, Index, Query, attr};

/// An expression with exactly the names and values it uses (DynamoDB rejects
/// unused ones).
#[derive(Default)]
pub(super) struct Expression<T> {
    pub(super) text: Option<T>,
    pub(super) names: Option<HashMap<String, String>>,
    pub(super) values: Option<AttrMap>,
}

/// "The item has not expired", as a condition or filter.
const ALIVE: &str = "(attribute_not_exists(#exp) OR #exp > :now)";

impl<T> Expression<T> {
    pub(super) fn name(&mut self, placeholder: &str, name: &str) {
        self.names
            .get_or_insert_with(HashMap::new)
            .insert(placeholder.into(), name.into());
    }

    pub(super) fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values
            .get_or_insert_with(HashMap::new)
            .insert(placeholder.into(), value);
    }

    pub(super) fn now(&mut self, now: u64) {
        self.name("#exp", attr::EXPIRES_AT);
        self.value(":now", AttributeValue::N(now.to_string()));
    }
}

impl Expression<String> {
    /// The condition expression of a write; an expired item counts as absent.
    pub(super) fn condition(condition: &Condition, now: u64) -> Self {
        let mut expr = Self::default();
        let text = match condition {
            Condition::None => return expr,
            Condition::NotExists => "attribute_not_exists(#pk) OR #exp <= :now".to_string(),
            Condition::Exists => format!("attribute_exists(#pk) AND {ALIVE}"),
            Condition::Equals { name, value } => {
                expr.name("#cond", name);
                expr.value(":cond", to_attr(value.clone()));
                format!("#cond = :cond AND {ALIVE}")
            }
        };
        if matches!(condition, Condition::NotExists | Condition::Exists) {
            expr.name("#pk", attr::PK);
        }
        expr.now(now);
        expr.text = Some(text);
        expr
    }
}

impl Expression<(String, String)> {
    /// The key condition and filter of a query; the filter always drops
    /// expired items.
    pub(super) fn query(query: &Query, now: u64) -> Self {
        let mut expr = Self::default();
        let (part, sort) = match query.index {
            Index::Primary => (attr::PK, attr::SK),
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
        };
        expr.name("#part", part);
        expr.value(":part", AttributeValue::S(query.partition.clone()));
        let mut key_condition = "#part = :part".to_string();
        if !query.sort_prefix.is_empty() {
            expr.name("#sort", sort);
            expr.value(":prefix", AttributeValue::S(query.sort_prefix.clone()));
            key_condition.push_str(" AND begins_with(#sort, :prefix)");
        }
        expr.now(now);
        let mut filter = ALIVE.to_string();
        if let Some((name, json)) = &query.filter {
            let value = serde_json::from_str(json).unwrap_or(Value::String(json.clone()));
            expr.name("#filter", name);
            expr.value(":filter", to_attr(value));
            filter.push_str(" AND #filter = :filter");
        }
        expr.text = Some((key_condition, filter));
        expr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_name_only_what_they_use() {
        let none = Expression::condition(&Condition::None, 10);
        assert!(none.text.is_none() && none.names.is_none() && none.values.is_none());
        let eq = Expression::condition(
            &Condition::Equals {
                name: "version".into(),
                value: json!(3),
            },
            10,
        );
        assert_eq!(eq.names.unwrap().len(), 2);
        assert_eq!(eq.values.unwrap()[":cond"], AttributeValue::N("3".into()));
    }
}
