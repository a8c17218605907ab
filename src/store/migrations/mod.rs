//! `atrium migrate`: converge a DynamoDB table to the definition in
//! `migrations/`.
//!
//! The definitions are data (JSON), compiled into the binary so that a
//! container or Lambda can migrate without the repository, and read by the CDK
//! app too. Migrating only ever adds: it creates a missing table, adds missing
//! GSIs, enables TTL, the stream and point-in-time recovery, and reports what
//! it changed; a second run reports nothing. A table restored from a backup
//! comes back without TTL, stream and recovery, so this is also how a
//! restored table is adopted. It never drops anything, and refuses what it cannot do in
//! place (a different key schema, a stream with another view type).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, StreamViewType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
mod definition;

pub use definition::{IndexDefinition, Migration, TableDefinition, latest};

use definition::{attribute_definitions, key_schema, projection, stream_spec};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MigrateError(String);

/// How long to wait for a table or index to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(15 * 60);

/// Brings `table` to the latest definition; returns what changed (empty when
/// it already matched).
pub async fn migrate(client: &Client, table: &str) -> Result<Vec<String>, MigrateError> {
    let Migration {
        version,
        table: wanted,
        ..
    } = latest();
    let mut changes = Vec::new();
    let current = match describe(client, table).await? {
        Some(current) => current,
        None => {
            create_table(client, table, &wanted).await?;
            changes.push(format!("created table {table} (definition v{version})"));
            wait_active(client, table).await?
        }
    };
    check_keys(&current, &wanted)?;
    for index in &wanted.global_secondary_indexes {
        let exists = current
            .global_secondary_indexes()
            .iter()
            .any(|gsi| gsi.index_name() == Some(index.name.as_str()));
        if !exists {
            add_index(client, table, &wanted, index).await?;
            changes.push(format!("added index {}", index.name));
            wait_active(client, table).await?;
        }
    }
    if let Some(change) = enable_stream(client, table, &current, &wanted).await? {
        changes.push(change);
    }
    if let Some(change) = enable_ttl(client, table, &wanted.ttl_attribute).await? {
        changes.push(change);
    }
    if let Some(change) = enable_recovery(client, table).await? {
        changes.push(change);
    }
    Ok(changes)
}

async fn describe(client: &Client, table: &str) -> Result<Option<TableDescription>, MigrateError> {
    match client.describe_table().table_name(table).send().await {
        Ok(output) => Ok(output.table),
        Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(error) => Err(sdk(error)),
    }
}

async fn create_table(
    client: &Client,
    table: &str,
    wanted: &TableDefinition,
) -> Result<(), MigrateError> {
    let indexes = wanted
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.partition_key, &index.sort_key)?))
                .projection(projection(index))
                .build()
                .map_err(invalid)
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(wanted.billing_mode.as_str()))
        .set_attribute_definitions(Some(attribute_definitions(wanted)?))
        .set_key_schema(Some(key_schema(&wanted.partition_key, &wanted.sort_key)?))
        .set_global_secondary_indexes(Some(indexes))
        .stream_specification(stream_spec(wanted)?)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

async fn add_index(
    client: &Client,
    table: &str,
    wanted: &TableDefinition,
    index: &IndexDefinition,
) -> Result<(), MigrateError> {
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(&index.name)
        .set_key_schema(Some(key_schema(&index.partition_key, &index.sort_key)?))
        .projection(projection(index))
        .build()
        .map_err(invalid)?;
    client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(attribute_definitions(wanted)?))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

async fn enable_stream(
    client: &Client,
    table: &str,
    current: &TableDescription,
    wanted: &TableDefinition,
) -> Result<Option<String>, MigrateError> {
    let view = StreamViewType::from(wanted.stream_view_type.as_str());
    match current.stream_specification() {
        Some(spec) if spec.stream_enabled() && spec.stream_view_type() == Some(&view) => Ok(None),
        Some(spec) if spec.stream_enabled() => Err(MigrateError(format!(
            "table {table} streams {:?}, the definition wants {view}; disable the stream first",
            spec.stream_view_type()
        ))),
        _ => {
            client
                .update_table()
                .table_name(table)
                .stream_specification(stream_spec(wanted)?)
                .send()
                .await
                .map_err(sdk)?;
            wait_active(client, table).await?;
            Ok(Some(format!("enabled stream ({view})")))
        }
    }
}

async fn enable_ttl(
    client: &Client,
    table: &str,
    attribute: &str,
) -> Result<Option<String>, MigrateError> {
    let output = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(sdk)?;
    let description = output.time_to_live_description;
    let status = description.as_ref().and_then(|d| d.time_to_live_status());
    let name = description.as_ref().and_then(|d| d.attribute_name());
    let on = matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    if on && name == Some(attribute) {
        return Ok(None);
    }
    if on {
        return Err(MigrateError(format!(
            "table {table} expires items by {name:?}, the definition wants {attribute}"
        )));
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(invalid)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(sdk)?;
    Ok(Some(format!("enabled TTL on {attribute}")))
}

/// Point-in-time recovery, always on: it is what a bad deploy or a bad
/// hand is undone with (the last 35 days, to the second).
async fn enable_recovery(client: &Client, table: &str) -> Result<Option<String>, MigrateError> {
    let output = client
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .map_err(sdk)?;
    let status = output
        .continuous_backups_description
        .and_then(|d| d.point_in_time_recovery_description)
        .and_then(|d| d.point_in_time_recovery_status);
    if status == Some(PointInTimeRecoveryStatus::Enabled) {
        return Ok(None);
    }
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(invalid)?;
    client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .map_err(sdk)?;
    Ok(Some("enabled point-in-time recovery".into()))
}

/// Polls until the table and all its indexes are active.
async fn wait_active(client: &Client, table: &str) -> Result<TableDescription, MigrateError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WITHIN;
    loop {
        let current = describe(client, table)
            .await?
            .ok_or_else(|| MigrateError(format!("table {table} disappeared")))?;
        let table_active = current.table_status() == Some(&TableStatus::Active);
        let indexes_active = current
            .global_secondary_indexes()
            .iter()
            .all(|gsi| gsi.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
        if table_active && indexes_active {
            return Ok(current);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(MigrateError(format!("table {table} is not active yet")));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn check_keys(current: &TableDescription, wanted: &TableDefinition) -> Result<(), MigrateError> {
    let key = |kind: KeyType| {
        current
            .key_schema()
            .iter()
            .find(|k| k.key_type() == &kind)
            .map(|k| k.attribute_name().to_string())
    };
    let found = (key(KeyType::Hash), key(KeyType::Range));
    let expected = (
        Some(wanted.partition_key.clone()),
        Some(wanted.sort_key.clone()),
    );
    if found == expected {
        Ok(())
    } else {
        Err(MigrateError(format!(
            "the table's keys are {found:?}, the definition's are {expected:?}; \
             keys cannot change in place"
        )))
    }
}

fn invalid(error: impl std::fmt::Display) -> MigrateError {
    MigrateError(format!("invalid table definition: {error}"))
}

fn sdk<E, R>(error: SdkError<E, R>) -> MigrateError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    MigrateError(DisplayErrorContext(&error).to_string())
}
