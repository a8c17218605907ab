//! The table's definition as `migrations/` holds it (JSON, compiled in),
//! and its parts in the SDK's types.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use serde::Deserialize;

use super::{MigrateError, invalid};

/// Every definition, oldest first. The last one applies.
const DEFINITIONS: &[&str] = &[include_str!("../../../migrations/0001-single-table.json")];

/// One versioned file of `migrations/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub version: u32,
    pub description: String,
    pub table: TableDefinition,
}

/// The table's shape, independent of its name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDefinition {
    pub billing_mode: String,
    /// Attribute name → type (`S`, `N`, `B`) for every key attribute.
    pub attributes: std::collections::BTreeMap<String, String>,
    pub partition_key: String,
    pub sort_key: String,
    pub global_secondary_indexes: Vec<IndexDefinition>,
    pub ttl_attribute: String,
    pub stream_view_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDefinition {
    pub name: String,
    pub partition_key: String,
    pub sort_key: String,
    pub projection: String,
}

/// Why migrating stopped.
/// The definition that applies: the highest version in `migrations/`.
pub fn latest() -> Migration {
    DEFINITIONS
        .iter()
        .map(|text| serde_json::from_str::<Migration>(text).expect("migrations/ holds valid JSON"))
        .max_by_key(|m| m.version)
        .expect("migrations/ holds at least one definition")
}

pub(super) fn key_schema(
    partition: &str,
    sort: &str,
) -> Result<Vec<KeySchemaElement>, MigrateError> {
    [(partition, KeyType::Hash), (sort, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(invalid)
        })
        .collect()
}

pub(super) fn attribute_definitions(
    wanted: &TableDefinition,
) -> Result<Vec<AttributeDefinition>, MigrateError> {
    wanted
        .attributes
        .iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(invalid)
        })
        .collect()
}

pub(super) fn projection(index: &IndexDefinition) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection.as_str()))
        .build()
}

pub(super) fn stream_spec(wanted: &TableDefinition) -> Result<StreamSpecification, MigrateError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(wanted.stream_view_type.as_str()))
        .build()
        .map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_definition_is_the_design_documents_table() {
        let latest = latest();
        let table = &latest.table;
        assert_eq!(
            (table.partition_key.as_str(), table.sort_key.as_str()),
            ("PK", "SK")
        );
        assert_eq!(
            table.global_secondary_indexes[0].name,
            crate::store::GSI1_NAME
        );
        assert_eq!(table.ttl_attribute, crate::store::attr::EXPIRES_AT);
        assert_eq!(table.stream_view_type, "NEW_AND_OLD_IMAGES");
        assert!(attribute_definitions(table).is_ok());
    }
}
