//! Events (rotations, anything else) marked on the run's clock while it goes on.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// A labelled instant on the run's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Milliseconds since the run started (0 for marks made before it started).
    pub at_ms: u64,
    /// What happened.
    pub label: String,
}

/// A cheap, cloneable handle for marking events during a run.
///
/// Create one, hand clones to whatever causes events (a rotation task, the local stack), and pass one
/// to [`run`](crate::run), which starts its clock. Marks are stamped when [`mark`](Self::mark) is
/// called and placed relative to the run's start, so they can be made from any task or thread at any
/// time. A timeline belongs to one run.
#[derive(Clone)]
pub struct Timeline {
    inner: Arc<Inner>,
}

struct Inner {
    start: watch::Sender<Option<Instant>>,
    marks: Mutex<Vec<(Instant, String)>>,
}

impl Timeline {
    /// A timeline whose clock has not started yet.
    pub fn new() -> Self {
        Timeline {
            inner: Arc::new(Inner {
                start: watch::Sender::new(None),
                marks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Records `label` at the current instant.
    pub fn mark(&self, label: impl Into<String>) {
        let now = Instant::now();
        self.marks().push((now, label.into()));
    }

    /// Time since the run started, or `None` before it has.
    pub fn elapsed(&self) -> Option<Duration> {
        self.started_at().map(|start| start.elapsed())
    }

    /// When the run started, if it has.
    pub fn started_at(&self) -> Option<Instant> {
        *self.inner.start.borrow()
    }

    /// Waits until the run has been going for `offset` (waiting first for it to start at all).
    ///
    /// This is how events are scheduled "at 10 s" on the same clock the report uses.
    pub async fn sleep_until_elapsed(&self, offset: Duration) {
        let mut rx = self.inner.start.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let start = match rx.wait_for(Option::is_some).await {
            Ok(start) => start.expect("waited for Some"),
            Err(_) => return,
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(start + offset)).await;
    }

    /// The marks so far, in time order, relative to the run's start.
    pub fn markers(&self) -> Vec<Marker> {
        let start = self.started_at();
        let mut marks: Vec<(Instant, String)> = self.marks().clone();
        marks.sort_by_key(|(at, _)| *at);
        marks
            .into_iter()
            .map(|(at, label)| {
                let since = start.map(|s| at.saturating_duration_since(s)).unwrap_or_default();
                Marker {
                    at_ms: u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
                    label,
                }
            })
            .collect()
    }

    /// Starts the clock. Called by the run.
    pub(crate) fn start(&self, at: Instant) {
        self.inner.start.send_replace(Some(at));
    }

    fn marks(&self) -> MutexGuard<'_, Vec<(Instant, String)>> {
        // A panic elsewhere while holding the lock cannot leave a Vec push half done; keep going.
        self.inner
            .marks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("started", &self.started_at().is_some())
            .field("marks", &self.marks().len())
            .finish()
    }
}
