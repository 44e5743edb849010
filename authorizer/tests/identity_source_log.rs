//! An identity-source mismatch is a misconfiguration, true of every request: it is logged at WARN once per
//! sandbox, not once per request, and no log line carries a value. Each denial still names its own reason
//! (DEBUG). Alone in its binary: the subscriber is the process's global one.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::*;
use lambda_runtime::tracing::subscriber::fmt;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::Level;
use origin_verify_extension::{HeldVersion, Snapshot};

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn identity_source_mismatch_is_logged_once_and_never_with_a_value() {
    let captured = Captured::default();
    let subscriber = fmt()
        .with_writer(captured.clone())
        .with_max_level(Level::TRACE)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let snapshot = Snapshot {
        current: HeldVersion::new("v2", CURRENT),
        pending: None,
        previous: None,
        fetched_at: Instant::now(),
    };
    let authorizer = authorizer_holding(snapshot);

    // Three mismatches and two admitted requests, three times, through clones (as the binary does).
    let requests = [
        (Kind::HttpV2, Some(vec![HOST])),
        (Kind::HttpV2, Some(vec![CURRENT, HOST])),
        (Kind::HttpV1, Some(vec![NEAR_MISS])),
        (Kind::HttpV2, None),
        (Kind::HttpV1, Some(vec![CURRENT])),
    ];
    for _ in 0..3 {
        let clone = authorizer.clone();
        for (kind, identity) in &requests {
            let identity = identity.as_deref().map(|values| identity_values(*kind, values));
            let raw = event_with_identity(*kind, Some(CURRENT), identity);
            clone.handle(&raw).await.expect("an answer");
        }
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("identity-source mismatch"), "{logs}");
    assert_eq!(
        logs.matches("IdentitySourceMismatch").count(),
        9,
        "each mismatch denied with its own reason: {logs}"
    );
    for value in [CURRENT, NEAR_MISS, HOST] {
        assert!(!logs.contains(value), "a value in the logs: {logs}");
    }
}
