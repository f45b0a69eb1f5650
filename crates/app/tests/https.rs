//! AuthKit's HTTPS client for the AWS SDK (decision 140) against local TLS servers:
//! certificates verified against the roots `SSL_CERT_FILE` names, connections reused,
//! timeouts and I/O failures reported so that the SDK retries them, a refused
//! certificate reported so that it does not, and the key exchange post-quantum hybrid
//! (X25519MLKEM768, decision 170) with a server that offers it.

mod support;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use rustls::NamedGroup;
use support::{Behaviour, KeyExchange};

fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

fn no_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder().build()
}

#[tokio::test]
async fn calls_reach_a_trusted_server_over_one_reused_connection() {
    let (address, seen) = support::serve(support::trusted(), |_| Behaviour::Answer).await;
    let http = authkit_app::aws_http::https_client();
    let dynamodb = support::dynamodb(http, address, retries(), no_timeouts());

    for _ in 0..3 {
        let tables = dynamodb
            .list_tables()
            .send()
            .await
            .expect("answered over HTTPS");
        assert_eq!(tables.table_names(), ["challenges"]);
    }
    assert_eq!(seen.requests(), 3);
    assert_eq!(seen.connections(), 1, "the pooled connection is reused");
}

/// The key exchange one call agreed on with a server accepting `key_exchange`.
async fn negotiated(key_exchange: KeyExchange) -> Vec<NamedGroup> {
    let (address, seen) =
        support::serve_with(support::trusted(), key_exchange, |_| Behaviour::Answer).await;
    let http = authkit_app::aws_http::https_client();
    let dynamodb = support::dynamodb(http, address, retries(), no_timeouts());
    dynamodb.list_tables().send().await.expect("answered");
    seen.key_exchanges()
}

#[tokio::test]
async fn the_key_exchange_is_post_quantum_hybrid_where_the_server_offers_it() {
    assert_eq!(
        negotiated(KeyExchange::AwsLcDefault).await,
        [NamedGroup::X25519MLKEM768]
    );
}

#[tokio::test]
async fn a_server_without_ml_kem_is_reached_by_x25519() {
    assert_eq!(
        negotiated(KeyExchange::Classical).await,
        [NamedGroup::X25519]
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_not_retried() {
    let (address, seen) = support::serve(&support::untrusted(), |_| Behaviour::Answer).await;
    support::trusted();
    let http = authkit_app::aws_http::https_client();
    let dynamodb = support::dynamodb(http, address, retries(), no_timeouts());

    let error = dynamodb.list_tables().send().await.expect_err("refused");
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("a dispatch failure, not {error:?}");
    };
    assert!(!failure.is_io() && !failure.is_timeout(), "{failure:?}");
    let chain = format!("{:?}", failure.as_connector_error());
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    assert_eq!(seen.requests(), 0, "nothing was sent to it");
    assert_eq!(
        seen.connections(),
        1,
        "a refused certificate is not tried again"
    );
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_retried() {
    let (address, seen) = support::serve(support::trusted(), |connection| match connection {
        0 => Behaviour::Close,
        _ => Behaviour::Answer,
    })
    .await;
    let http = authkit_app::aws_http::https_client();
    let dynamodb = support::dynamodb(http, address, retries(), no_timeouts());

    let tables = dynamodb
        .list_tables()
        .send()
        .await
        .expect("the retry is answered");
    assert_eq!(tables.table_names(), ["challenges"]);
    assert_eq!(seen.connections(), 2);
    assert_eq!(seen.requests(), 2);
}

#[tokio::test]
async fn a_handshake_never_answered_is_a_connect_timeout() {
    let (address, _) = support::serve(support::trusted(), |_| Behaviour::NoHandshake).await;
    let http = authkit_app::aws_http::https_client();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(200))
        .build();
    let dynamodb = support::dynamodb(http, address, RetryConfig::disabled(), timeouts);

    let error = dynamodb.list_tables().send().await.expect_err("timed out");
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("a dispatch failure, not {error:?}");
    };
    assert!(failure.is_timeout(), "{failure:?}");
}

#[tokio::test]
async fn a_request_never_answered_is_a_read_timeout_and_retried() {
    let (address, seen) = support::serve(support::trusted(), |_| Behaviour::NoAnswer).await;
    let http = authkit_app::aws_http::https_client();
    let timeouts = TimeoutConfig::builder()
        .read_timeout(Duration::from_millis(200))
        .build();
    let dynamodb = support::dynamodb(http, address, retries(), timeouts);

    let error = dynamodb.list_tables().send().await.expect_err("timed out");
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("a dispatch failure, not {error:?}");
    };
    assert!(failure.is_timeout(), "{failure:?}");
    assert_eq!(seen.requests(), 3, "each attempt timed out and was retried");
}
