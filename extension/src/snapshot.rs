//! One consistent view of the secret's stages, as loaded from Secrets Manager, and the decision over it.

use std::time::{Instant, SystemTime};

use subtle::Choice;

use crate::secret::{Presented, SecretValue};

/// The staging label a presented value matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `AWSCURRENT`.
    Current,
    /// `AWSPENDING`: the value a rotation is about to hand to CloudFront.
    Pending,
    /// `AWSPREVIOUS`, inside its grace window.
    Previous,
}

impl Stage {
    /// The Secrets Manager staging label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Current => "AWSCURRENT",
            Stage::Pending => "AWSPENDING",
            Stage::Previous => "AWSPREVIOUS",
        }
    }
}

/// One version of the secret held in memory.
#[derive(Debug, Clone)]
pub struct HeldVersion {
    /// The Secrets Manager version id (not secret).
    pub version_id: String,
    /// The header value.
    pub value: SecretValue,
    /// When Secrets Manager created this version, if it said.
    pub created: Option<SystemTime>,
    /// When this process first saw the version.
    pub seen_at: SystemTime,
}

impl HeldVersion {
    /// A version seen now, with no creation date (for snapshots built by hand: tests, benchmarks).
    pub fn new(version_id: impl Into<String>, value: &str) -> Self {
        Self {
            version_id: version_id.into(),
            value: SecretValue::new(value),
            created: None,
            seen_at: SystemTime::now(),
        }
    }
}

/// The `AWSPREVIOUS` version and the end of its grace window.
#[derive(Debug, Clone)]
pub struct PreviousVersion {
    /// The version.
    pub held: HeldVersion,
    /// When it stopped being current, as far as this process can tell (see README, "Grace window").
    pub since: SystemTime,
    /// Accepted until this instant; never accepted after.
    pub accept_until: Instant,
}

/// What the cache holds at one moment. Immutable: a refresh builds a new one and swaps it in.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `AWSCURRENT` (always present once loaded).
    pub current: HeldVersion,
    /// `AWSPENDING`, when a rotation is under way. Absent is normal and cached as absent.
    pub pending: Option<HeldVersion>,
    /// `AWSPREVIOUS`, only while its grace window is open at load time.
    pub previous: Option<PreviousVersion>,
    /// When this snapshot was confirmed against Secrets Manager (monotonic clock).
    pub fetched_at: Instant,
}

impl Snapshot {
    /// Compares `presented` with every held value, always all of them, in constant time.
    ///
    /// `now` decides whether `AWSPREVIOUS` is still inside its grace window; the comparison against it
    /// runs either way so that timing does not depend on the window.
    #[inline]
    pub fn check(&self, presented: &Presented, now: Instant) -> Option<Stage> {
        let current = self.current.value.ct_matches(presented);
        let pending = match &self.pending {
            Some(p) => p.value.ct_matches(presented),
            None => Choice::from(0),
        };
        let previous = match &self.previous {
            Some(p) => p.held.value.ct_matches(presented) & Choice::from(u8::from(now < p.accept_until)),
            None => Choice::from(0),
        };
        // Only now branch: every comparison has run.
        if bool::from(current) {
            Some(Stage::Current)
        } else if bool::from(pending) {
            Some(Stage::Pending)
        } else if bool::from(previous) {
            Some(Stage::Previous)
        } else {
            None
        }
    }

    /// Age of the snapshot at `now`.
    pub fn age(&self, now: Instant) -> std::time::Duration {
        now.saturating_duration_since(self.fetched_at)
    }

    /// The version ids held, for logs: (current, pending, previous). Never values.
    pub fn version_ids(&self) -> (&str, Option<&str>, Option<&str>) {
        (
            &self.current.version_id,
            self.pending.as_ref().map(|p| p.version_id.as_str()),
            self.previous.as_ref().map(|p| p.held.version_id.as_str()),
        )
    }

    /// The held version with this id, if any (to reuse it instead of fetching it again).
    pub fn find(&self, version_id: &str) -> Option<&HeldVersion> {
        std::iter::once(&self.current)
            .chain(self.pending.as_ref())
            .chain(self.previous.as_ref().map(|p| &p.held))
            .find(|v| v.version_id == version_id)
    }
}
