//! CloudWatch Embedded Metric Format (EMF): one JSON log line that CloudWatch Logs turns into metrics, so
//! the functions publish metrics by printing, with no API call and no extra permission.
//!
//! The format (CloudWatch User Guide, "Specification: Embedded metric format"): a JSON object whose `_aws`
//! member holds `Timestamp` (milliseconds since the epoch) and `CloudWatchMetrics`, a list of directives,
//! each with a `Namespace`, `Dimensions` (a list of dimension sets, each a list of member names, at most
//! 30) and `Metrics` (at most 100, each a `Name` and an optional `Unit`). Every dimension named is a string
//! member of the root object; every metric named is a number member of the root object.
//!
//! Dimension values here are always low-cardinality names chosen by the code (function, step): never a
//! header value, a request id or a secret. [`validate`] checks a line against these rules; the tests of
//! every crate that prints EMF use it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// Every metric origin-verify prints, in one place: the functions print only these, and the templates'
/// alarms and dashboard may name only these (a test holds both to this list).
pub mod names {
    /// The CloudWatch namespace of every metric origin-verify prints.
    pub const NAMESPACE: &str = "OriginVerify";
    /// The dimension every metric carries: the Lambda function's name.
    pub const FUNCTION: &str = "FunctionName";
    /// The rotator's per-step metrics also carry the step.
    pub const STEP: &str = "Step";

    /// The authorizer's metrics (counts unless the name says otherwise).
    pub const AUTHORIZER: &[&str] = &[
        "AllowsCurrent",
        "AllowsPending",
        "AllowsPrevious",
        "DeniesNoMatch",
        "DeniesEmptyOrOversized",
        "DeniesMissing",
        "DeniesRepeated",
        "DeniesMalformed",
        "DeniesIdentitySource",
        "FailedClosed",
        "Refreshes",
        "RefreshFailures",
        "SecretsManagerCalls",
        "MissWaits",
        SNAPSHOT_AGE_MAX,
        MISS_WAIT_MAX,
        SECONDS_SINCE_ROTATION,
    ];
    /// The largest snapshot age at decision time in the interval, in seconds.
    pub const SNAPSHOT_AGE_MAX: &str = "SnapshotAgeMax";
    /// The longest a miss waited for a refresh in the interval, in milliseconds.
    pub const MISS_WAIT_MAX: &str = "MissWaitMax";
    /// Seconds since the secret last rotated (since its creation if it never has), as DescribeSecret
    /// reported at the last refresh: what the "no rotation for too long" alarm watches.
    pub const SECONDS_SINCE_ROTATION: &str = "SecondsSinceRotation";

    /// The rotator's per-step metrics (dimensions: function and step).
    pub const ROTATOR_STEP: &[&str] = &[STEP_DURATION, STEP_SUCCEEDED, STEP_FAILED];
    /// How long a step ran, in milliseconds.
    pub const STEP_DURATION: &str = "StepDuration";
    /// A step that ended without error (1 per run).
    pub const STEP_SUCCEEDED: &str = "StepSucceeded";
    /// A step that failed (1 per run).
    pub const STEP_FAILED: &str = "StepFailed";
    /// The rotator's per-rotation metrics (dimension: function), printed when finishSecret completes.
    pub const ROTATOR_ROTATION: &[&str] = &[
        ROTATIONS_COMPLETED,
        ROTATION_SECONDS,
        PROPAGATION_WAIT_SECONDS,
        DEPLOY_WAIT_SECONDS,
    ];
    /// A rotation that completed (1 per rotation).
    pub const ROTATIONS_COMPLETED: &str = "RotationsCompleted";
    /// From the pending version's creation to finishSecret's end, in seconds.
    pub const ROTATION_SECONDS: &str = "RotationSeconds";
    /// setSecret's propagation wait, in seconds.
    pub const PROPAGATION_WAIT_SECONDS: &str = "PropagationWaitSeconds";
    /// testSecret's (and finishSecret's) wait for CloudFront's `Deployed`, in seconds.
    pub const DEPLOY_WAIT_SECONDS: &str = "DeployWaitSeconds";

    /// Every name, for cross-checks.
    pub fn all() -> impl Iterator<Item = &'static str> {
        AUTHORIZER
            .iter()
            .chain(ROTATOR_STEP)
            .chain(ROTATOR_ROTATION)
            .copied()
    }
}

/// The unit of a metric, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of events.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// A duration in seconds.
    Seconds,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Units CloudWatch accepts in a metric definition (the subset of `StandardUnit` a validator needs).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One EMF document: a namespace, fixed dimensions, and metrics with their values.
#[derive(Debug, Clone)]
pub struct Emf {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, f64)>,
}

impl Emf {
    /// A document in `namespace` whose every metric has the dimensions `dimensions` (name, value).
    pub fn new(namespace: &str, dimensions: &[(&str, &str)]) -> Self {
        Self {
            namespace: namespace.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            metrics: Vec::new(),
        }
    }

    /// Adds a metric.
    pub fn metric(mut self, name: &str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name.to_owned(), unit, value));
        self
    }

    /// The metrics added so far.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The document as one JSON line (no newline), stamped `at`.
    pub fn line(&self, at: SystemTime) -> String {
        let millis = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let names: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": millis,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": definitions,
                }],
            }),
        );
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        for (name, _, value) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root).to_string()
    }

    /// Prints the document as one line on stdout, where Lambda sends it to CloudWatch Logs.
    pub fn print(&self) {
        if !self.is_empty() {
            println!("{}", self.line(SystemTime::now()));
        }
    }
}

/// One metric value read back from an EMF line.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// The namespace.
    pub namespace: String,
    /// The metric's name.
    pub name: String,
    /// Its unit, if given.
    pub unit: Option<String>,
    /// Its value.
    pub value: f64,
    /// The dimension values (name, value) of its first dimension set.
    pub dimensions: Vec<(String, String)>,
}

/// Checks `line` against the EMF rules above and returns every metric value it carries. The error says
/// which rule is broken.
pub fn validate(line: &str) -> Result<Vec<MetricValue>, String> {
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("not a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .filter(|t| *t > 1_000_000_000_000)
        .ok_or("_aws.Timestamp is not epoch milliseconds")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    let mut out = Vec::new();
    for d in directives {
        let namespace = d
            .get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 255)
            .ok_or("a directive without a Namespace")?;
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive without Dimensions")?;
        let mut first = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".to_owned());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                let value = root
                    .get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("dimension {name} has no string value at the root"))?;
                if i == 0 {
                    first.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty() && m.len() <= 100)
            .ok_or("Metrics is not an array of 1 to 100 definitions")?;
        for m in metrics {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.len() <= 1024)
                .ok_or("a metric without a Name")?;
            let unit = match m.get("Unit") {
                None => None,
                Some(u) => {
                    let u = u.as_str().ok_or("a Unit is not a string")?;
                    if !UNITS.contains(&u) {
                        return Err(format!("metric {name}: unknown unit {u}"));
                    }
                    Some(u.to_owned())
                }
            };
            let value = root
                .get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("metric {name} has no numeric value at the root"))?;
            out.push(MetricValue {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                unit,
                value,
                dimensions: first.clone(),
            });
        }
    }
    Ok(out)
}

/// Whether a log line is meant as EMF (a JSON object with an `_aws` member), to pick them out of a log.
pub fn looks_like_emf(line: &str) -> bool {
    line.trim_start().starts_with('{') && line.contains("\"_aws\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_000_000_123)
    }

    #[test]
    fn a_line_follows_the_specification() {
        let line = Emf::new("OriginVerify", &[("FunctionName", "auth")])
            .metric("AllowsCurrent", Unit::Count, 3.0)
            .metric("SnapshotAgeMax", Unit::Seconds, 12.5)
            .line(at());
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_795_000_000_123u64);
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], "OriginVerify");
        assert_eq!(d["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(d["Metrics"][0], json!({"Name": "AllowsCurrent", "Unit": "Count"}));
        assert_eq!(v["FunctionName"], "auth");
        assert_eq!(v["AllowsCurrent"], 3.0);
        assert!(!line.contains('\n'), "one line");
        let values = validate(&line).unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(values[1].name, "SnapshotAgeMax");
        assert_eq!(values[1].value, 12.5);
        assert_eq!(
            values[0].dimensions,
            vec![("FunctionName".to_owned(), "auth".to_owned())]
        );
    }

    #[test]
    fn the_validator_names_the_broken_rule() {
        let ok = Emf::new("N", &[("F", "f")])
            .metric("M", Unit::Count, 1.0)
            .line(at());
        assert!(validate(&ok).is_ok());
        let broken = [
            (ok.replace("\"_aws\"", "\"aws\""), "no _aws"),
            (ok.replace("1795000000123", "17"), "Timestamp"),
            (ok.replace("\"Count\"", "\"Things\""), "unknown unit"),
            (ok.replace("\"F\":\"f\"", "\"F\":1"), "dimension F"),
            (ok.replace("\"M\":1.0", "\"M\":\"1\""), "metric M"),
            (
                ok.replace("\"Namespace\":\"N\"", "\"Namespace\":\"\""),
                "Namespace",
            ),
            ("not json".to_owned(), "not JSON"),
        ];
        for (line, why) in broken {
            let err = validate(&line).expect_err(&line);
            assert!(err.contains(why), "{line}: {err}");
        }
    }

    #[test]
    fn emf_lines_are_told_from_log_lines() {
        let line = Emf::new("N", &[]).metric("M", Unit::Count, 1.0).line(at());
        assert!(looks_like_emf(&line));
        assert!(!looks_like_emf(" INFO secret refreshed current=v1"));
    }
}
