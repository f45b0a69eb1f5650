//! Log lines captured as Lambda writes them (tracing's JSON format, fields nested under
//! `fields`), for tests of what the stack's metric filters count: each `outcome` must be
//! logged once per event, or alarms see double.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::subscriber::DefaultGuard;

/// Captures what this thread logs while it lives. `#[tokio::test]` runs the test, the
/// spawned server and the triggers on one thread, so that is everything the test causes.
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

#[derive(Clone)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    pub fn start() -> CapturedLogs {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedBuffer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        CapturedLogs {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// How many lines say `outcome` = this (where a metric filter counts them).
    pub fn count_outcome(&self, outcome: &str) -> usize {
        let bytes = self.buffer.lock().expect("log buffer").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["outcome"] == outcome || line["outcome"] == outcome)
            .count()
    }
}
