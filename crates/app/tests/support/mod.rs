// Shared by two test binaries; each uses part of it.
#![allow(dead_code)]

//! A test CA trusted through `SSL_CERT_FILE`, another CA nobody trusts, and local TLS
//! servers that answer (or misbehave) the way the HTTPS client's tests need.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::NamedGroup;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A server certificate for `localhost`, and the CA that signed it.
pub struct Identity {
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    fn new(ca_name: &str) -> Identity {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        Identity {
            ca_pem: ca_cert.pem(),
            chain: vec![leaf.der().clone(), ca_cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    fn acceptor(&self, key_exchange: KeyExchange) -> TlsAcceptor {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if let KeyExchange::Classical = key_exchange {
            provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        }
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// The trusted identity; the first call makes its CA the only root the process trusts
/// (`SSL_CERT_FILE`, read by the client at its first call).
pub fn trusted() -> &'static Identity {
    static TRUSTED: OnceLock<Identity> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        let identity = Identity::new("AuthKit test CA");
        let file = std::env::temp_dir().join(format!("authkit-https-{}.pem", std::process::id()));
        std::fs::write(&file, &identity.ca_pem).unwrap();
        std::env::set_var("SSL_CERT_FILE", &file);
        std::env::remove_var("SSL_CERT_DIR");
        identity
    })
}

/// A certificate for `localhost` from a CA that is not trusted.
pub fn untrusted() -> Identity {
    Identity::new("Someone else's CA")
}

/// The key exchanges a test server accepts: aws-lc's defaults (X25519MLKEM768 first, an
/// implementation independent of AuthKit's), or X25519 alone, as a server without ML-KEM.
#[derive(Clone, Copy)]
pub enum KeyExchange {
    AwsLcDefault,
    Classical,
}

/// What a server saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    key_exchanges: Mutex<Vec<NamedGroup>>,
}

impl Seen {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    /// The key exchange group each completed handshake agreed on.
    pub fn key_exchanges(&self) -> Vec<NamedGroup> {
        self.key_exchanges.lock().unwrap().clone()
    }
}

/// How a server treats each connection, by its number (0 for the first).
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers every request on the connection with DynamoDB's ListTables answer.
    Answer,
    /// Accepts TCP and never starts the TLS handshake.
    NoHandshake,
    /// Completes the handshake, reads the request, never answers.
    NoAnswer,
    /// Completes the handshake, reads the request, closes the connection.
    Close,
}

/// A TLS server on 127.0.0.1 (reached as `localhost`) presenting `identity`.
pub async fn serve(
    identity: &Identity,
    behaviour: impl Fn(usize) -> Behaviour + Send + Sync + 'static,
) -> (SocketAddr, Arc<Seen>) {
    serve_with(identity, KeyExchange::AwsLcDefault, behaviour).await
}

/// `serve`, accepting only the key exchanges `key_exchange` names.
pub async fn serve_with(
    identity: &Identity,
    key_exchange: KeyExchange,
    behaviour: impl Fn(usize) -> Behaviour + Send + Sync + 'static,
) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let acceptor = identity.acceptor(key_exchange);
    let counts = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let number = counts.connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, counts) = (acceptor.clone(), counts.clone());
            let behaviour = behaviour(number);
            tokio::spawn(async move {
                if let Behaviour::NoHandshake = behaviour {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    drop(tcp);
                    return;
                }
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Some(group) = tls.get_ref().1.negotiated_key_exchange_group() {
                    counts.key_exchanges.lock().unwrap().push(group.name());
                }
                if let Behaviour::Answer = behaviour {
                    let service = hyper::service::service_fn(move |request| {
                        let counts = counts.clone();
                        async move { answer(&counts, request) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                    return;
                }
                let mut request = vec![0; 4096];
                let _ = tls.read(&mut request).await;
                counts.requests.fetch_add(1, Ordering::SeqCst);
                if let Behaviour::NoAnswer = behaviour {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    (address, seen)
}

fn answer(
    seen: &Seen,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    assert_eq!(request.version(), hyper::Version::HTTP_11);
    let body = Full::new(Bytes::from_static(br#"{"TableNames":["challenges"]}"#));
    Ok(hyper::Response::builder()
        .header("content-type", "application/x-amz-json-1.0")
        .body(body)
        .unwrap())
}

/// A DynamoDB client on `http` aimed at `https://localhost:<port>`, with test credentials.
pub fn dynamodb(
    http: SharedHttpClient,
    address: SocketAddr,
    retries: aws_config::retry::RetryConfig,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(format!("https://localhost:{}", address.port()))
        .http_client(http)
        .retry_config(retries)
        .timeout_config(timeouts)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
