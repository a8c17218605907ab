//! The Lambda event mode: DynamoDB Stream batches and S3 notifications,
//! decoded into [`ChangeRecord`]s and object keys and handed to
//! [`Reactions`], the same code path the local workers feed.
//!
//! [`dispatch`] is the event mode's contract: it takes whatever Lambda
//! invoked the function with and answers what Lambda expects back.

use aws_lambda_events::event::{dynamodb, s3};
use serde_json::{Value, json};

use crate::reactions::Reactions;
use crate::store::{ChangeKind, ChangeRecord, Item, Key, attr};

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
pub async fn dispatch(reactions: &Reactions, event: &Value) -> Result<Value, String> {
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
        Some("aws:dynamodb") => stream_batch(reactions, records).await,
        Some("aws:s3") => {
            for record in records {
                s3_record(reactions, record).await?;
            }
            Ok(json!({}))
        }
        other => Err(format!("unexpected event source {other:?}")),
    }
}

async fn stream_batch(reactions: &Reactions, records: &[Value]) -> Result<Value, String> {
    for record in records {
        let Err(error) = stream_record(reactions, record).await else {
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

/// One stream record; `Err` when it cannot be read or its reaction asks
/// for a retry (either way Lambda delivers it again).
async fn stream_record(reactions: &Reactions, record: &Value) -> Result<(), String> {
    let change = serde_json::from_value(record.clone())
        .map_err(|e| format!("not a DynamoDB stream record: {e}"))
        .and_then(record_from_dynamodb)
        .inspect_err(|_| unreadable(reactions))?;
    reactions
        .on_change(&change)
        .await
        .map_err(|e| e.to_string())
}

async fn s3_record(reactions: &Reactions, record: &Value) -> Result<(), String> {
    let record: s3::S3EventRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("not an S3 event record: {e}"))
        .inspect_err(|_| unreadable(reactions))?;
    match created_key(record) {
        Some(key) => reactions
            .on_object_created(&key)
            .await
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// Counts a record that never reaches a reaction and goes back to Lambda.
fn unreadable(reactions: &Reactions) {
    reactions.tally.events_handled.inc();
    reactions.tally.events_failed.inc();
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
