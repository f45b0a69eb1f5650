//! A minimal AWS Lambda Runtime API (the 2018-06-01 interface every custom runtime polls),
//! so tests and benchmarks can run the real `bootstrap` binaries as Lambda would: start the
//! process with `AWS_LAMBDA_RUNTIME_API` pointing here, hand it events, read its answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

type Pending = HashMap<String, oneshot::Sender<Result<Value, Value>>>;

struct Queue {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    pending: Mutex<Pending>,
    /// The end of the init phase: the first poll for an event, or an init error's body.
    ready: Mutex<Option<oneshot::Sender<Result<Instant, Value>>>>,
}

/// A function process under the emulated Runtime API.
pub struct LambdaFunction {
    submit: mpsc::Sender<(String, Value)>,
    queue: Arc<Queue>,
    child: tokio::process::Child,
    /// From process start to its first poll for an event: Lambda's "init" phase.
    pub cold_start: Duration,
    next_id: std::sync::atomic::AtomicU64,
}

impl LambdaFunction {
    /// Starts `binary` with `env` and waits until it asks for its first event.
    pub async fn start(binary: &Path, env: &[(String, String)]) -> LambdaFunction {
        LambdaFunction::try_start(binary, env)
            .await
            .unwrap_or_else(|error| panic!("{} failed to start: {error}", binary.display()))
    }

    /// Starts `binary` with `env`: the function once it asks for its first event, or the
    /// error it posted to `/runtime/init/error` (`errorType`, `errorMessage`).
    pub async fn try_start(
        binary: &Path,
        env: &[(String, String)],
    ) -> Result<LambdaFunction, Value> {
        let (submit, events) = mpsc::channel(64);
        let (ready_tx, ready_rx) = oneshot::channel();
        let queue = Arc::new(Queue {
            events: Mutex::new(events),
            pending: Mutex::default(),
            ready: Mutex::new(Some(ready_tx)),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(queue.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address: SocketAddr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });

        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .env_clear()
            .envs(env.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary.file_name().and_then(|n| n.to_str()).unwrap_or("function"))
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error} (build it first: cargo build -p authkit-lambdas --bins)", binary.display()));
        let ready_at = tokio::time::timeout(Duration::from_secs(30), ready_rx)
            .await
            .unwrap_or_else(|_| panic!("{} never polled for an event", binary.display()))
            .expect("the runtime API is up")?;
        Ok(LambdaFunction {
            submit,
            queue,
            child,
            cold_start: ready_at - started,
            next_id: 0.into(),
        })
    }

    /// Invokes the function with `event`: its response, or its error payload.
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        let id = format!(
            "req-{}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let (tx, rx) = oneshot::channel();
        self.queue.pending.lock().await.insert(id.clone(), tx);
        self.submit
            .send((id, event))
            .await
            .expect("the runtime API is up");
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("the function answered within 10 s")
            .expect("an answer")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn next(State(queue): State<Arc<Queue>>) -> Response {
    if let Some(ready) = queue.ready.lock().await.take() {
        let _ = ready.send(Ok(Instant::now()));
    }
    let Some((id, event)) = queue.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(5);
    let mut headers = HeaderMap::new();
    let header = |v: String| HeaderValue::from_str(&v).expect("a valid header");
    headers.insert("lambda-runtime-aws-request-id", header(id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(deadline.as_millis().to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header("arn:aws:lambda:us-east-1:123456789012:function:test".into()),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into()),
    );
    (headers, axum::Json(event)).into_response()
}

async fn respond(
    State(queue): State<Arc<Queue>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(
        &queue,
        &id,
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)),
    )
    .await
}

async fn fail(
    State(queue): State<Arc<Queue>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(
        &queue,
        &id,
        Err(serde_json::from_slice(&body).unwrap_or(Value::Null)),
    )
    .await
}

async fn init_error(State(queue): State<Arc<Queue>>, body: Bytes) -> StatusCode {
    eprintln!("function init error: {}", String::from_utf8_lossy(&body));
    if let Some(ready) = queue.ready.lock().await.take() {
        let _ = ready.send(Err(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    StatusCode::ACCEPTED
}

async fn finish(queue: &Queue, id: &str, outcome: Result<Value, Value>) -> StatusCode {
    match queue.pending.lock().await.remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// Where cargo put the workspace's binaries for this build (next to the test executable).
pub fn binary_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    exe.parent()
        .and_then(Path::parent)
        .expect("a target directory")
        .join(name)
}
