//! The outcome of a run: counts, latency percentiles, per-second series, markers; JSON and text forms.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{units, Expect, Marker, Mode};

/// What a request came back with: an HTTP status, or a transport error (no response).
///
/// Ordered statuses first (numerically), then `Error`; written as `"200"` … `"error"` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum StatusKey {
    /// An HTTP response with this status.
    Code(u16),
    /// No response: connection refused, timeout, reset, ...
    Error,
}

impl StatusKey {
    /// The colour group the charts use.
    pub fn class(self) -> StatusClass {
        match self {
            StatusKey::Code(200..=299) => StatusClass::Success,
            StatusKey::Code(300..=399) => StatusClass::Redirect,
            StatusKey::Code(401 | 403) => StatusClass::Refused,
            StatusKey::Code(400..=499) => StatusClass::OtherClientError,
            StatusKey::Code(_) => StatusClass::ServerError,
            StatusKey::Error => StatusClass::TransportError,
        }
    }
}

impl fmt::Display for StatusKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusKey::Code(code) => write!(f, "{code}"),
            StatusKey::Error => f.write_str("error"),
        }
    }
}

impl From<StatusKey> for String {
    fn from(key: StatusKey) -> String {
        key.to_string()
    }
}

impl TryFrom<String> for StatusKey {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text == "error" {
            return Ok(StatusKey::Error);
        }
        text.parse()
            .map(StatusKey::Code)
            .map_err(|_| format!("not a status: {text:?}"))
    }
}

/// Groups of statuses, in the order the charts stack them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 3xx (redirects are not followed).
    Redirect,
    /// 401 and 403.
    Refused,
    /// Other 4xx.
    OtherClientError,
    /// 5xx (and anything outside 200–499).
    ServerError,
    /// No response.
    TransportError,
}

impl StatusClass {
    /// Every class, in stacking order.
    pub const ALL: [StatusClass; 6] = [
        StatusClass::Success,
        StatusClass::Redirect,
        StatusClass::Refused,
        StatusClass::OtherClientError,
        StatusClass::ServerError,
        StatusClass::TransportError,
    ];

    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::Redirect => "3xx",
            StatusClass::Refused => "401/403",
            StatusClass::OtherClientError => "other 4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::TransportError => "no response",
        }
    }
}

/// Latency percentiles over a whole run, in microseconds, from the request's scheduled start to the
/// last byte of its body. Transport errors have no latency: their duration is the timeout or the
/// failed connect, and mixing it in would make the tail read the timeout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Responses measured.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Arithmetic mean.
    pub mean_us: u64,
}

/// One second of one target (requests bucketed by their scheduled start).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the run started (the bucket covers `[second, second + 1)`).
    pub second: u32,
    /// Outcomes of the requests scheduled in this second.
    pub statuses: BTreeMap<StatusKey, u64>,
    /// How many of them missed the expectation.
    pub violations: u64,
    /// Median latency of this second's responses (`None`: no response).
    pub p50_us: Option<u64>,
    /// 99th percentile.
    pub p99_us: Option<u64>,
    /// Slowest.
    pub max_us: Option<u64>,
}

impl Second {
    /// Requests with an outcome in this second.
    pub fn total(&self) -> u64 {
        self.statuses.values().sum()
    }
}

/// Everything measured for one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The target's name.
    pub name: String,
    /// The URL loaded.
    pub url: String,
    /// What its responses had to be.
    pub expect: Expect,
    /// Names of the extra headers sent (values are never recorded).
    pub header_names: Vec<String>,
    /// Requests that got a response or a transport error.
    pub total: u64,
    /// Count per outcome.
    pub statuses: BTreeMap<StatusKey, u64>,
    /// Transport errors by kind (`timeout`, `connect`, `body`, `other`).
    pub errors: BTreeMap<String, u64>,
    /// Outcomes that missed the expectation.
    pub violations: u64,
    /// Requests that were due but still waiting for an in-flight slot when the run ended. Not
    /// violations, but a sign that the target (or `max_in_flight`) could not keep up with the rate.
    pub unsent: u64,
    /// Percentiles over the whole run.
    pub latency: Latency,
    /// Per-second series, one entry per second of the run.
    pub seconds: Vec<Second>,
}

impl TargetReport {
    /// Responses (and errors) that were not 2xx.
    pub fn non_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(k, _)| k.class() != StatusClass::Success)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The plan as run (what a reader needs to interpret the numbers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInfo {
    /// How long requests were started for.
    pub duration_ms: u64,
    /// Requests per second per target.
    pub rate_per_target: u32,
    /// In-flight cap per target.
    pub max_in_flight: u64,
    /// Local or remote.
    pub mode: Mode,
    /// Per-request bound.
    pub request_timeout_ms: u64,
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Tool name and version.
    pub tool: String,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// From start until the last in-flight request ended.
    pub elapsed_ms: u64,
    /// The plan.
    pub plan: PlanInfo,
    /// Per target, in plan order.
    pub targets: Vec<TargetReport>,
    /// Timeline marks, in time order.
    pub markers: Vec<Marker>,
}

impl Report {
    /// Outcomes (responses or transport errors) that missed their target's expectation, all targets.
    pub fn violations(&self) -> u64 {
        self.targets.iter().map(|t| t.violations).sum()
    }

    /// The target named `name`.
    pub fn target(&self, name: &str) -> Option<&TargetReport> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Writes the report as pretty-printed JSON.
    pub fn write_json(&self, path: &Path) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Writes the report as one self-contained HTML page (inline SVG charts, no scripts).
    pub fn write_html(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, crate::html::render(self))
    }

    /// One line saying what was run.
    pub fn headline(&self) -> String {
        format!(
            "{} at {}/s{} for {} ({} mode), started {}",
            match self.targets.len() {
                1 => "1 target".to_string(),
                n => format!("{n} targets"),
            },
            self.plan.rate_per_target,
            if self.targets.len() == 1 { "" } else { " each" },
            units::duration(std::time::Duration::from_millis(self.plan.duration_ms)),
            match self.plan.mode {
                Mode::Local => "local",
                Mode::Remote => "remote",
            },
            self.started_at,
        )
    }

    /// Every status seen on any target, in order: the columns of the summary tables.
    pub fn status_columns(&self) -> Vec<StatusKey> {
        let mut keys: Vec<StatusKey> = self
            .targets
            .iter()
            .flat_map(|t| t.statuses.keys().copied())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// A short aligned plain-text table (per target: requests, per-status counts, violations, latency
    /// percentiles), then the markers and the verdict.
    pub fn summary(&self) -> String {
        let statuses = self.status_columns();
        let show_unsent = self.targets.iter().any(|t| t.unsent > 0);

        let mut header: Vec<String> = vec!["target".into(), "expect".into(), "requests".into()];
        header.extend(statuses.iter().map(ToString::to_string));
        if show_unsent {
            header.push("unsent".into());
        }
        header.extend(["violations", "p50", "p90", "p99", "max"].map(String::from));

        let mut rows = vec![header];
        for t in &self.targets {
            let mut row = vec![t.name.clone(), t.expect.to_string(), t.total.to_string()];
            row.extend(
                statuses
                    .iter()
                    .map(|k| t.statuses.get(k).copied().unwrap_or(0).to_string()),
            );
            if show_unsent {
                row.push(t.unsent.to_string());
            }
            row.push(t.violations.to_string());
            let l = &t.latency;
            if l.samples == 0 {
                row.extend(["-", "-", "-", "-"].map(String::from));
            } else {
                row.extend([l.p50_us, l.p90_us, l.p99_us, l.max_us].map(units::latency));
            }
            rows.push(row);
        }

        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headline());
        out.push('\n');
        out.push_str(&align(&rows, 2));
        for t in self.targets.iter().filter(|t| !t.errors.is_empty()) {
            let kinds: Vec<String> = t.errors.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            let _ = writeln!(out, "  {}: no response: {}", t.name, kinds.join(", "));
        }
        if !self.markers.is_empty() {
            out.push_str("\nmarkers\n");
            for m in &self.markers {
                let _ = writeln!(out, "  {:>8}  {}", units::offset_ms(m.at_ms), m.label);
            }
        }
        out.push('\n');
        let violations = self.violations();
        if violations == 0 {
            out.push_str("PASS: no violations\n");
        } else {
            let per_target: Vec<String> = self
                .targets
                .iter()
                .filter(|t| t.violations > 0)
                .map(|t| format!("{} {}", t.name, t.violations))
                .collect();
            let _ = writeln!(out, "FAIL: {violations} violations ({})", per_target.join(", "));
        }
        out
    }
}

/// Lays out rows as columns: the first two left-aligned (names), the rest right-aligned (numbers).
fn align(rows: &[Vec<String>], left_aligned: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let width = widths[c];
            if c < left_aligned {
                let _ = write!(line, "{cell:<width$}");
            } else {
                let _ = write!(line, "{cell:>width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
