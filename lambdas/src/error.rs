//! What a function reports to Lambda when it fails: a stable `errorType` naming what went
//! wrong and a message that is ours alone. Cognito shows a trigger's error message to the
//! calling app, so it never carries a provider's or an SDK's text (they can hold a
//! recipient's address or request details); those stay in the log.

use std::fmt;
use std::future::Future;

use authkit_app::{BuildError, ConfigError};
use authkit_cognito::TriggerError;
use lambda_runtime::Diagnostic;

pub struct FunctionError {
    error_type: &'static str,
    message: String,
    /// Causes below the message (adapters, SDKs, providers), for the log only.
    causes: String,
}

impl FunctionError {
    pub fn new(error_type: &'static str, message: impl Into<String>) -> FunctionError {
        FunctionError {
            error_type,
            message: message.into(),
            causes: String::new(),
        }
    }

    /// A setting is missing or wrong: the function cannot start or serve.
    pub fn configuration(message: impl Into<String>) -> FunctionError {
        FunctionError::new("Configuration", message)
    }

    /// The event is not the type this function handles.
    pub fn invalid_event<E>(error: serde_path_to_error::Error<serde_json::Error>) -> FunctionError {
        let kind = std::any::type_name::<E>()
            .rsplit("::")
            .next()
            .unwrap_or("event");
        FunctionError::new(
            "InvalidEvent",
            format!(
                "the event is not a {kind}: at `{}`: {}",
                error.path(),
                error.inner()
            ),
        )
    }

    /// `error_type` for `error`, whose message and first cause are ours (thiserror types
    /// written to be shown); anything deeper goes to the log only.
    pub fn with_causes(error_type: &'static str, error: &dyn std::error::Error) -> FunctionError {
        let mut message = error.to_string();
        let mut causes = Vec::new();
        let mut source = error.source();
        if let Some(first) = source {
            message = format!("{message}: {first}");
            source = first.source();
        }
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        FunctionError {
            error_type,
            message,
            causes: causes.join(": "),
        }
    }

    /// Puts what was being done in front of the message.
    pub fn context(mut self, what: impl fmt::Display) -> FunctionError {
        self.message = format!("{what}: {}", self.message);
        self
    }

    fn diagnostic(&self) -> Diagnostic {
        Diagnostic {
            error_type: self.error_type.to_owned(),
            error_message: self.message.clone(),
        }
    }
}

/// What the runtime logs when a handler fails: everything, causes included.
impl fmt::Debug for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)?;
        if !self.causes.is_empty() {
            write!(f, " (caused by: {})", self.causes)?;
        }
        Ok(())
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for FunctionError {}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Diagnostic {
        error.diagnostic()
    }
}

impl From<ConfigError> for FunctionError {
    fn from(error: ConfigError) -> FunctionError {
        FunctionError::configuration(error.to_string())
    }
}

impl From<BuildError> for FunctionError {
    fn from(error: BuildError) -> FunctionError {
        let error_type = match error {
            BuildError::Config(_) | BuildError::OutboxNotAvailable => "Configuration",
            BuildError::Keys(_) => "Keys",
        };
        FunctionError::with_causes(error_type, &error)
    }
}

impl From<TriggerError> for FunctionError {
    fn from(error: TriggerError) -> FunctionError {
        FunctionError::with_causes(error.error_type(), &error)
    }
}

/// Runs a function's cold start. A failure is posted to the Runtime API's `init/error` (so
/// Lambda reports its type and message, not a bare exit) before the process ends.
pub async fn initialize<T>(
    init: impl Future<Output = Result<T, FunctionError>>,
) -> Result<T, lambda_runtime::Error> {
    crate::logging::init();
    match init.await {
        Ok(ready) => Ok(ready),
        Err(error) => {
            tracing::error!(error = ?error, "cold start failed");
            report_init_error(&error).await;
            Err(error.into())
        }
    }
}

async fn report_init_error(error: &FunctionError) {
    // Outside Lambda (a binary started by hand) there is no Runtime API to tell.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    let client = lambda_runtime_api_client::PooledClient::builder().build();
    let request = serde_json::to_vec(&error.diagnostic())
        .map_err(lambda_runtime::Error::from)
        .and_then(|body| {
            Ok(lambda_runtime_api_client::build_request()
                .method(http::Method::POST)
                .uri("/2018-06-01/runtime/init/error")
                .header("lambda-runtime-function-error-type", "Runtime.InitError")
                .body(body.into())?)
        });
    let sent = match request {
        Ok(request) => client.call(request).await.map(drop),
        Err(error) => Err(error),
    };
    if let Err(sending) = sent {
        tracing::error!(error = %sending, "the init error could not be reported to the Runtime API");
    }
}
