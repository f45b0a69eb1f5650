//! The one HTTPS client every AWS SDK client of a process shares.
//!
//! The SDK's default client builds a TLS connector (rustls on aws-lc, with the platform's
//! root certificates parsed into a trust store) once to "validate" each SDK client as it is
//! constructed, throws it away, and builds another at that client's first call. With two
//! to five SDK clients per function, that was most of a Lambda function's cold start
//! (decision 114). Here every SDK client shares one client whose connector is built at
//! the first call and cached for the process: the same rustls/aws-lc stack, the same root
//! certificates, the same proxy settings as the SDK's default, certificates verified the
//! same way; only when the work happens changes.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// An HTTPS client for the SDK: its TLS connector (and the platform's root certificates)
/// set up at the first call, once per process and connector settings.
pub(crate) fn deferred_https_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        // As the SDK's default client does for the current behaviour version.
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    Deferred(client).into_shared()
}

/// The wrapped client without its eager connector: `validate_base_client_config` keeps
/// its default (nothing to check), and connectors come from the inner client's cache.
#[derive(Debug)]
struct Deferred(SharedHttpClient);

impl HttpClient for Deferred {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
