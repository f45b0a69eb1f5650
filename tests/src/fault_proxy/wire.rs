//! The wire formats the proxy reads and writes: which service a request is for, what
//! message it carries, and each service's errors as AWS sends them.

use bytes::Bytes;
use http::StatusCode;

use super::{Delivered, Fault, Service, Upstream};

pub(super) fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

pub(super) fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "host" | "content-length" | "transfer-encoding" | "connection" | "keep-alive"
    )
}

pub(super) fn classify(
    method: &http::Method,
    path: &str,
    target: Option<&str>,
    body: &[u8],
) -> Service {
    if target.is_some_and(|t| t.starts_with("DynamoDB_")) {
        Service::DynamoDb
    } else if method == http::Method::POST && path.starts_with("/v2/email/outbound-emails") {
        Service::Ses
    } else if method == http::Method::POST
        && form_value(body, "Action").as_deref() == Some("Publish")
    {
        Service::Sns
    } else {
        Service::Other
    }
}

/// The `ClientRequestToken` of a DynamoDB `TransactWriteItems` request.
pub(super) fn transaction_token(target: Option<&str>, body: &[u8]) -> Option<String> {
    if target != Some("DynamoDB_20120810.TransactWriteItems") {
        return None;
    }
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    request["ClientRequestToken"].as_str().map(str::to_owned)
}

pub(super) fn form_value(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The recipient and text of a message SES v2 (`SendEmail`, simple content) or SNS
/// (`Publish` to a phone number) was asked to send.
pub(super) fn delivered_message(service: Service, body: &[u8]) -> Option<Delivered> {
    match service {
        Service::Ses => {
            let request: serde_json::Value = serde_json::from_slice(body).ok()?;
            Some(Delivered {
                to: request["Destination"]["ToAddresses"][0]
                    .as_str()?
                    .to_owned(),
                text: request["Content"]["Simple"]["Body"]["Text"]["Data"]
                    .as_str()?
                    .to_owned(),
            })
        }
        Service::Sns => Some(Delivered {
            to: form_value(body, "PhoneNumber")?,
            text: form_value(body, "Message")?,
        }),
        _ => None,
    }
}

/// A fault as the real service answers it.
pub(super) fn error_response(service: Service, fault: Fault) -> Upstream {
    let (status, error_type, content_type, body) = match (service, fault) {
        (Service::DynamoDb, fault) => {
            let (status, shape, message) = match fault {
                Fault::ThroughputExceeded => (
                    400,
                    "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                ),
                Fault::Throttling => (
                    400,
                    "com.amazon.coral.availability#ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                ),
                _ => (
                    500,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    "Internal server error",
                ),
            };
            return dynamodb_error(status, shape, message);
        }
        (Service::Ses, fault) => {
            let (status, code, message) = match fault {
                Fault::Throttling => (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
                Fault::Rejected => (400, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: recipient"),
                _ => (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."),
            };
            let body = serde_json::json!({"message": message}).to_string();
            (status, code, "application/json", body)
        }
        (_, fault) => {
            let (status, kind, code, message) = match fault {
                Fault::Throttling => (400, "Sender", "Throttling", "Rate exceeded"),
                Fault::Rejected => (
                    400,
                    "Sender",
                    "InvalidParameter",
                    "Invalid parameter: PhoneNumber Reason: input incorrectly formatted",
                ),
                _ => (500, "Receiver", "InternalError", "Internal Error"),
            };
            let body = format!(
                r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"#
            );
            (status, code, "text/xml", body)
        }
    };
    typed_error(status, error_type, content_type, body)
}

/// A DynamoDB (awsJson 1.0) error: the shape in `__type` and in `x-amzn-ErrorType`.
pub(super) fn dynamodb_error(status: u16, shape: &'static str, message: &str) -> Upstream {
    let body = serde_json::json!({"__type": shape, "message": message}).to_string();
    typed_error(status, shape, "application/x-amz-json-1.0", body)
}

pub(super) fn typed_error(
    status: u16,
    error_type: &'static str,
    content_type: &'static str,
    body: String,
) -> Upstream {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", http::HeaderValue::from_static(content_type));
    headers.insert(
        "x-amzn-errortype",
        http::HeaderValue::from_static(error_type),
    );
    headers.insert(
        "x-amzn-requestid",
        http::HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    Upstream {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        headers,
        body: Bytes::from(body),
    }
}
