//! The one HTTPS client every AWS SDK client of a process shares (decisions 114, 140).
//!
//! HTTP/1.1 over hyper's client (the connection pool the Lambda runtime's own client
//! already links), TLS by rustls on *ring* with X25519MLKEM768 (`tls.rs`) and the platform's root
//! certificates. The
//! SDK's default client speaks HTTP/2 as well and brings its own pool: most of a
//! function's size (docs/performance.md), for calls that AuthKit makes over HTTP/1.1.
//! What the SDK relies on is kept: certificates verified against the platform's roots
//! (read at the first call, not at init: decision 114), connect and read timeouts from
//! the SDK's settings, connections reused and poisoned by the SDK after a transient
//! failure, HTTPS through the proxy named by `HTTPS_PROXY`/`NO_PROXY`, and failures
//! reported as the `ConnectorError` kinds the SDK's retries decide by.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{
    capture_connection, CaptureConnection, HttpConnector as Tcp,
};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn Error + Send + Sync>;
type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The HTTPS client for every SDK client of the process. Nothing is set up until the
/// first call: the TLS configuration (the platform's roots parsed into a trust store) and
/// the proxy settings are read then, once, and shared by every connector.
pub fn https_client() -> SharedHttpClient {
    AwsHttpClient::default().into_shared()
}

#[derive(Debug, Default)]
struct AwsHttpClient {
    shared: OnceLock<Shared>,
    /// One connector (and pool) per timeout settings, as the SDK's client keeps them.
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

/// Connect and read timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct Shared {
    tls: Arc<rustls::ClientConfig>,
    proxy: Arc<Matcher>,
}

impl HttpClient for AwsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let shared = self.shared.get_or_init(|| Shared {
            tls: tls_config(),
            // `HTTPS_PROXY`/`https_proxy`, `ALL_PROXY` and `NO_PROXY`, as the SDK's client reads them.
            proxy: Arc::new(Matcher::from_env()),
        });
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| Connector::new(shared, key.0, key.1).into_shared())
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// rustls on *ring* with the post-quantum hybrid key exchange (`tls.rs`; the provider's
/// default suites and protocol versions: TLS 1.2 and 1.3, forward-secret AEAD suites only), the platform's roots — or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR` when set — and HTTP/1.1 offered by ALPN.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let loaded = rustls_native_certs::load_native_certs();
    if !loaded.errors.is_empty() {
        tracing::warn!(errors = ?loaded.errors, "some root certificates could not be loaded");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (trusted, _unparsable) = roots.add_parsable_certificates(loaded.certs);
    if trusted == 0 {
        tracing::warn!("no root certificates: every AWS call will be refused");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports rustls's default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// hyper's pooled HTTP/1.1 client behind the SDK's connector interface.
#[derive(Debug)]
struct Connector {
    client: Client<ConnectTimeout, SdkBody>,
    read_timeout: Option<Duration>,
}

impl Connector {
    fn new(
        shared: &Shared,
        connect_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    ) -> Self {
        let mut tcp = Tcp::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        // TLS for https endpoints, plain TCP for an emulator's http endpoint.
        let direct_or_tunnel = ProxyOrDirect {
            tcp,
            proxy: shared.proxy.clone(),
        };
        let https = HttpsConnector::from((direct_or_tunnel, shared.tls.clone()));
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never closes idle connections.
            .pool_timer(TokioTimer::new())
            .build(ConnectTimeout {
                https,
                limit: connect_timeout,
            });
        Connector {
            client,
            read_timeout,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        let connection = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            // What lets the SDK take a connection out of the pool after a transient failure.
            capture.set_connection_retriever(move || connection_metadata(&connection));
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|_| ConnectorError::timeout(TimedOut("no response", limit).into()))?,
                None => response.await,
            }
            .map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

fn connection_metadata(connection: &CaptureConnection) -> Option<ConnectionMetadata> {
    connection.connection_metadata().as_ref()?;
    let connection = connection.clone();
    Some(
        ConnectionMetadata::builder()
            .proxied(false)
            .poison_fn(move || {
                if let Some(connected) = connection.connection_metadata().as_ref() {
                    connected.poison();
                }
            })
            .build(),
    )
}

/// The `ConnectorError` kind the SDK's retries decide by: timeouts and I/O failures
/// (refused, reset, closed mid-exchange) are retried; a refused certificate is not (it
/// will be refused again), nor is anything unrecognised.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let is = |found: fn(&(dyn Error + 'static)) -> bool| error_chain(&error).any(found);
    if is(|e| e.is::<TimedOut>()) {
        return ConnectorError::timeout(error.into());
    }
    if is(|e| e.is::<rustls::Error>()) {
        return ConnectorError::other(error.into(), None);
    }
    let hyper = error_chain(&error).find_map(|e| e.downcast_ref::<hyper::Error>());
    if let Some(hyper) = hyper {
        if hyper.is_timeout() {
            return ConnectorError::timeout(error.into());
        }
        if hyper.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
    }
    let closed = hyper.is_some_and(|hyper| hyper.is_closed() || hyper.is_canceled());
    if closed || error.is_connect() || is(|e| e.is::<std::io::Error>()) {
        return ConnectorError::io(error.into());
    }
    ConnectorError::other(error.into(), None)
}

/// `error` and its sources; after an `io::Error` its payload, which `source()` skips
/// (hyper-rustls nests the rustls error two `io::Error`s deep).
fn error_chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => error.source(),
        }
    })
}

/// A connect (TCP, proxy tunnel and TLS handshake) or response that took too long.
#[derive(Debug, thiserror::Error)]
#[error("{0} within {1:?}")]
struct TimedOut(&'static str, Duration);

/// TCP to the endpoint, or through a `CONNECT` tunnel when the proxy settings name one
/// for it. Plain-HTTP endpoints (an emulator on this machine) are always reached directly.
#[derive(Clone, Debug)]
struct ProxyOrDirect {
    tcp: Tcp,
    proxy: Arc<Matcher>,
}

impl Service<Uri> for ProxyOrDirect {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // hyper's TCP connector is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, endpoint: Uri) -> Self::Future {
        let via = if endpoint.scheme() == Some(&http::uri::Scheme::HTTPS) {
            self.proxy.intercept(&endpoint)
        } else {
            None
        };
        let mut tcp = self.tcp.clone();
        let Some(via) = via else {
            return Box::pin(async move { Ok(tcp.call(endpoint).await?) });
        };
        if via.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            let refused = "a proxy reached over TLS is not supported; name it http://";
            return Box::pin(async move { Err(refused.into()) });
        }
        let mut tunnel = Tunnel::new(via.uri().clone(), tcp);
        if let Some(auth) = via.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Box::pin(async move { Ok(tunnel.call(endpoint).await?) })
    }
}

/// The whole connect — TCP, tunnel, TLS handshake — within the SDK's connect timeout.
#[derive(Clone, Debug)]
struct ConnectTimeout {
    https: HttpsConnector<ProxyOrDirect>,
    limit: Option<Duration>,
}

impl Service<Uri> for ConnectTimeout {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, endpoint: Uri) -> Self::Future {
        let connecting = self.https.call(endpoint);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                Some(limit) => tokio::time::timeout(limit, connecting)
                    .await
                    .map_err(|_| TimedOut("no connection", limit))?,
                None => connecting.await,
            }
        })
    }
}
