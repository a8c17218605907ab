//! Reactions to changes in the table: one code path, whoever delivers the
//! change.
//!
//! On AWS, DynamoDB Streams delivers records to the binary's Lambda event
//! mode ([`records_from_dynamodb`] turns the Lambda event into
//! [`ChangeRecord`]s); locally, the embedded store's durable change feed
//! delivers them to an in-process worker ([`spawn_local_feed`]). Both call
//! [`react`]. Objects work the same way: S3 ObjectCreated events
//! ([`created_keys_from_s3`]) or the local object store's notification both
//! call [`object_created`]. Deliveries are at least once and may race, so every reaction
//! is idempotent. `Err` from [`react`] means "deliver this record again
//! later"; a reaction that can never succeed logs and returns `Ok`.
//!
//! [`dispatch`] is the Lambda event mode's contract: it takes whatever
//! Lambda invoked the function with and answers what Lambda expects back.

use std::time::Duration;

use aws_lambda_events::event::{dynamodb, s3};
use serde_json::{Value, json};

use crate::blog::subscribers;
use crate::state::AppState;
use crate::store::{ChangeFeed, ChangeKind, ChangeRecord, Item, Key, attr};

/// Handles one change.
pub async fn react(state: &AppState, change: &ChangeRecord) -> Result<(), String> {
    let is_new_subscriber =
        change.kind == ChangeKind::Insert && change.key.sk == subscribers::SORT_KEY;
    if is_new_subscriber {
        let email = change
            .new_image
            .as_ref()
            .and_then(|item| item.get("email"))
            .and_then(Value::as_str);
        match email {
            Some(email) => return subscribers::welcome(state, email).await,
            None => tracing::warn!(pk = change.key.pk, "subscriber record without an email"),
        }
    }
    Ok(())
}

/// Handles "object `key` was created" (S3 ObjectCreated, or the local
/// object store's notification): completes uploads.
pub async fn object_created(state: &AppState, key: &str) -> Result<(), String> {
    crate::uploads::complete::object_created(state, key).await
}

/// Handles one Lambda event-mode invocation.
///
/// - A DynamoDB Streams batch is handled in order and stops at the first
///   record that fails, answering `{"batchItemFailures": [that record]}`:
///   Lambda checkpoints the records before it and delivers the rest again,
///   so a good record is neither lost nor handled twice, and a poison
///   record goes, after the function's retry limit, to its on-failure
///   destination instead of blocking the shard.
/// - S3 notifications: every ObjectCreated record completes its upload;
///   `Err` makes Lambda's asynchronous invocation retry the whole event,
///   which is harmless because completion is idempotent.
/// - Anything else is refused with `Err`, so a wiring mistake shows up as
///   function errors rather than silently dropped events.
pub async fn dispatch(state: &AppState, event: &Value) -> Result<Value, String> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("not a DynamoDB Streams or S3 event: no `Records`")?;
    let source = records
        .first()
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str);
    match source {
        None if records.is_empty() => Ok(json!({ "batchItemFailures": [] })),
        Some("aws:dynamodb") => stream_batch(state, records).await,
        Some("aws:s3") => {
            for record in records {
                s3_record(state, record).await?;
            }
            Ok(json!({}))
        }
        other => Err(format!("unexpected event source {other:?}")),
    }
}

async fn stream_batch(state: &AppState, records: &[Value]) -> Result<Value, String> {
    for record in records {
        let Err(error) = stream_record(state, record).await else {
            continue;
        };
        let id = record
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a failed record has no sequence number: {error}"))?;
        tracing::warn!(%error, sequence_number = id, "stream record failed; Lambda will retry from it");
        return Ok(json!({ "batchItemFailures": [{ "itemIdentifier": id }] }));
    }
    Ok(json!({ "batchItemFailures": [] }))
}

async fn stream_record(state: &AppState, record: &Value) -> Result<(), String> {
    let record: dynamodb::EventRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("not a DynamoDB stream record: {e}"))?;
    react(state, &record_from_dynamodb(record)?).await
}

async fn s3_record(state: &AppState, record: &Value) -> Result<(), String> {
    let record: s3::S3EventRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("not an S3 event record: {e}"))?;
    match created_key(record) {
        Some(key) => object_created(state, &key).await,
        None => Ok(()),
    }
}

/// The object keys of an S3 ObjectCreated event as Lambda delivers it.
pub fn created_keys_from_s3(event: s3::S3Event) -> Vec<String> {
    event.records.into_iter().filter_map(created_key).collect()
}

/// The key of an ObjectCreated record, decoded: S3 URL-encodes keys in
/// events, with `+` for a space.
fn created_key(record: s3::S3EventRecord) -> Option<String> {
    let created = record
        .event_name
        .as_deref()
        .is_some_and(|name| name.starts_with("ObjectCreated:"));
    let key = record.s3.object.key.filter(|_| created)?;
    let spaced = key.replace('+', " ");
    Some(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The records of a DynamoDB Streams event as Lambda delivers it.
pub fn records_from_dynamodb(event: dynamodb::Event) -> Result<Vec<ChangeRecord>, String> {
    event
        .records
        .into_iter()
        .map(record_from_dynamodb)
        .collect()
}

fn record_from_dynamodb(record: dynamodb::EventRecord) -> Result<ChangeRecord, String> {
    let kind = match record.event_name.as_str() {
        "INSERT" => ChangeKind::Insert,
        "MODIFY" => ChangeKind::Modify,
        "REMOVE" => ChangeKind::Remove,
        other => return Err(format!("unknown stream event {other}")),
    };
    let image = |item: serde_dynamo::Item| -> Result<Option<Item>, String> {
        if item.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(item)
            .map(Some)
            .map_err(|e| format!("stream image: {e}"))
    };
    let keys = image(record.change.keys)?.unwrap_or_default();
    let key_part = |name: &str| keys.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(pk), Some(sk)) = (key_part(attr::PK), key_part(attr::SK)) else {
        return Err("stream record without PK and SK".into());
    };
    Ok(ChangeRecord {
        kind,
        key: Key::new(pk, sk),
        new_image: image(record.change.new_image)?,
        old_image: image(record.change.old_image)?,
    })
}

/// How long the local worker waits before retrying a failed reaction.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Delivers the embedded store's changes to [`react`], in commit order,
/// until the process ends. A failing record is retried (and holds back the
/// ones after it, as a stream shard does).
pub fn spawn_local_feed(feed: ChangeFeed, state: AppState) {
    tokio::spawn(async move {
        loop {
            match feed.pending(64).await {
                Ok(batch) if batch.is_empty() => {
                    // Also wake now and then, in case a notification was missed.
                    let _ = tokio::time::timeout(Duration::from_secs(5), feed.committed()).await;
                }
                Ok(batch) => {
                    for (seq, change) in batch {
                        if let Err(error) = react(&state, &change).await {
                            tracing::warn!(%error, seq, "reaction failed; will retry");
                            tokio::time::sleep(RETRY_AFTER).await;
                            break;
                        }
                        if let Err(error) = feed.ack(seq).await {
                            tracing::warn!(%error, seq, "could not acknowledge a change");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the change feed failed");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    });
}
