//! The emulator's DynamoDB Streams API, read the way Lambda's event source mapping reads a
//! table's stream (moto serves the records but runs no mappings).

use serde_json::{json, Value};

use crate::emulator_sdk;

/// A DynamoDB Streams call, as any client makes it (moto routes by the signing scope).
async fn streams(http: &reqwest::Client, endpoint: &str, operation: &str, body: Value) -> Value {
    http.post(endpoint)
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{operation}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .json(&body)
        .send()
        .await
        .expect("the streams API answers")
        .json()
        .await
        .expect("a JSON answer")
}

/// Every record the table's stream holds, oldest first, each as Lambda would hand it over.
pub async fn stream_records(endpoint: &str, table: &str) -> Vec<Value> {
    let sdk = emulator_sdk(endpoint).await;
    let stream_arn = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("the table is described")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the events table has a stream");
    let http = reqwest::Client::new();
    let described = streams(
        &http,
        endpoint,
        "DescribeStream",
        json!({"StreamArn": stream_arn}),
    )
    .await;
    let mut records = Vec::new();
    for shard in described["StreamDescription"]["Shards"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let iterator = streams(
            &http,
            endpoint,
            "GetShardIterator",
            json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut iterator = iterator["ShardIterator"].clone();
        while iterator.is_string() {
            let page = streams(
                &http,
                endpoint,
                "GetRecords",
                json!({"ShardIterator": iterator}),
            )
            .await;
            let got = page["Records"].as_array().cloned().unwrap_or_default();
            if got.is_empty() {
                break;
            }
            records.extend(got.into_iter().map(|mut record| {
                record["eventSourceARN"] = json!(stream_arn);
                record
            }));
            iterator = page["NextShardIterator"].clone();
        }
    }
    records
}
