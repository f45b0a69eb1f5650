//! The events table's stream, as the `authkit-events` function receives it: a Lambda
//! DynamoDB Streams event (`{"Records": [...]}`, each record with the item's new image in
//! DynamoDB's JSON). [`from_dynamodb_record`] turns one record back into the domain event
//! the item holds; [`handle`] hands a batch to the pipeline and answers with Lambda's
//! partial-batch response, so that a failure retries from the first record not delivered.
//!
//! The records are read with these few types rather than `aws_lambda_events`' DynamoDB
//! module: its images are `serde_dynamo` values, and the item mapping here works on the
//! SDK's attribute values, which the stream's JSON converts to directly.

use std::collections::HashMap;

use authkit_domain::event::{Event, EventPipeline};
use authkit_domain::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::event_from_item;
use crate::item::{corrupt, Item};

/// A DynamoDB Streams event as Lambda delivers it (the fields AuthKit reads).
#[derive(Debug, Clone, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<HashMap<String, Value>>,
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
}

/// Lambda's answer for a stream batch: the records to deliver again (the first one that
/// failed; Lambda retries from there).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The event a stream record carries: the event an insert wrote, or a refusal count as it
/// stands after an update. None for a removal (the table's TTL deleting an old item).
pub fn from_dynamodb_record(record: &StreamRecord) -> Result<Option<Event>, StoreError> {
    if record.event_name == "REMOVE" {
        return Ok(None);
    }
    let image = record
        .dynamodb
        .new_image
        .as_ref()
        .ok_or_else(|| corrupt("NewImage"))?;
    let item: Item = image
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value).ok_or_else(|| corrupt(name))?)))
        .collect::<Result<_, StoreError>>()?;
    event_from_item(&item).map(Some)
}

/// One attribute value in DynamoDB's JSON (`{"S": "…"}`, `{"N": "1"}`, …).
fn attribute(value: &Value) -> Option<AttributeValue> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(inner.as_bool()?),
        "M" => AttributeValue::M(
            inner
                .as_object()?
                .iter()
                .map(|(name, value)| Some((name.clone(), attribute(value)?)))
                .collect::<Option<_>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(attribute)
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Delivers a batch: the events of every record up to the first one that cannot be read,
/// in order, to every consumer. Nothing delivered yet is reported as failed from its
/// first record on (Lambda retries from there, splitting the batch when it keeps failing,
/// until the record reaches the dead-letter queue); everything before it is done.
pub async fn handle(pipeline: &EventPipeline, batch: &StreamBatch) -> BatchResponse {
    let mut events = Vec::new();
    let mut unreadable = None;
    for record in &batch.records {
        match from_dynamodb_record(record) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %error, sequence = %record.dynamodb.sequence_number, "an events stream record cannot be read");
                unreadable = Some(record.dynamodb.sequence_number.clone());
                break;
            }
        }
    }
    let failed_from = match pipeline.deliver(&events).await {
        Ok(()) => unreadable,
        Err(failed) => {
            tracing::error!(consumer = failed.consumer, error = %failed.source, events = events.len(), "an events batch will be retried");
            batch
                .records
                .first()
                .map(|record| record.dynamodb.sequence_number.clone())
        }
    };
    BatchResponse {
        batch_item_failures: failed_from
            .into_iter()
            .map(|item_identifier| BatchItemFailure { item_identifier })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the stream delivers it: an event item's insert.
    const INSERT: &str = r#"{
      "eventID": "c4ca4238a0b923820dcc509a6f75849b",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1795000000,
        "Keys": {"pk": {"S": "acme#evt_0a"}, "sk": {"S": "event"}},
        "NewImage": {
          "pk": {"S": "acme#evt_0a"}, "sk": {"S": "event"}, "tenant": {"S": "acme"},
          "ttl": {"N": "1795086400"},
          "event": {"S": "{\"id\":\"evt_0a\",\"tenant\":\"acme\",\"at\":1795000000,\"kind\":\"challenge_started\",\"outcome\":\"success\",\"user_id\":null,\"challenge_id\":null,\"device_id\":null,\"ip\":null,\"identifier\":\"j***@example.com\",\"channel\":\"email\",\"detail\":null}"}
        },
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 26,
        "StreamViewType": "NEW_IMAGE"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/authkit-events/stream/2026-11-26T00:00:00.000"
    }"#;

    const COUNT: &str = r#"{
      "eventName": "MODIFY",
      "dynamodb": {
        "NewImage": {
          "pk": {"S": "acme#refused_rate_limited_ip_1795000020"}, "sk": {"S": "event"},
          "tenant": {"S": "acme"}, "reason": {"S": "rate_limited_ip"},
          "minute": {"N": "1795000020"}, "count": {"N": "41"}, "ttl": {"N": "1795086420"}
        },
        "SequenceNumber": "4421584500000000017450439092"
      }
    }"#;

    fn record(json: &str) -> StreamRecord {
        serde_json::from_str(json).expect("a stream record")
    }

    #[test]
    fn an_insert_carries_its_event_and_an_update_the_count_as_it_stands() {
        let event = from_dynamodb_record(&record(INSERT))
            .expect("readable")
            .expect("an event");
        assert_eq!(event.id, "evt_0a");
        assert_eq!(event.kind.as_str(), "challenge_started");
        let count = from_dynamodb_record(&record(COUNT))
            .expect("readable")
            .expect("an event");
        assert_eq!(count.id, "refused_rate_limited_ip_1795000020");
        assert_eq!(count.count, Some(41));
        let removed = StreamRecord {
            event_name: "REMOVE".into(),
            ..record(INSERT)
        };
        assert_eq!(from_dynamodb_record(&removed).expect("readable"), None);
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_and_what_came_before_is_delivered() {
        let mut broken = record(COUNT);
        broken.dynamodb.new_image = Some(HashMap::from([(
            "count".to_owned(),
            serde_json::json!({"SS": ["x"]}),
        )]));
        let batch = StreamBatch {
            records: vec![record(INSERT), broken.clone(), record(COUNT)],
        };
        let response = handle(&EventPipeline::default(), &batch).await;
        assert_eq!(
            response.batch_item_failures,
            vec![BatchItemFailure {
                item_identifier: broken.dynamodb.sequence_number
            }]
        );
    }
}
