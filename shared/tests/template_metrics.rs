//! The templates' alarms and dashboard name only metrics the functions print: every `OriginVerify`
//! metric named in `templates/*.yaml` and `template.yaml` is in `emf::names`, the list the authorizer and
//! the rotator print from.

use std::collections::BTreeSet;
use std::path::PathBuf;

use origin_verify_shared::emf::names;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The `OriginVerify` metric names a template mentions: `MetricName:` under `Namespace: OriginVerify`
/// (block or flow style), and dashboard rows `["OriginVerify", "<name>", ...]`.
fn origin_verify_metrics(template: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut namespace = String::new();
    for line in template.lines() {
        if let Some(ns) = field(line, "Namespace:") {
            namespace = ns;
        }
        if let Some(name) = field(line, "MetricName:") {
            if namespace == names::NAMESPACE {
                found.insert(name);
            }
        }
        let row = format!("[\"{}\", \"", names::NAMESPACE);
        let mut rest = line;
        while let Some(at) = rest.find(&row) {
            rest = &rest[at + row.len()..];
            if let Some(end) = rest.find('"') {
                found.insert(rest[..end].to_owned());
            }
        }
    }
    found
}

/// The value after `key` on this line, up to a comma, a brace or the end.
fn field(line: &str, key: &str) -> Option<String> {
    let at = line.find(key)?;
    let value = line[at + key.len()..]
        .split([',', '}'])
        .next()?
        .trim()
        .trim_matches('"');
    (!value.is_empty()).then(|| value.to_owned())
}

fn unknown(found: &BTreeSet<String>) -> Vec<&String> {
    let known: BTreeSet<&str> = names::all().collect();
    found.iter().filter(|n| !known.contains(n.as_str())).collect()
}

#[test]
fn every_metric_the_templates_name_is_one_the_functions_print() {
    let mut all = BTreeSet::new();
    for file in [
        "template.yaml",
        "templates/monitoring.yaml",
        "templates/protect-existing.yaml",
    ] {
        let text = std::fs::read_to_string(workspace().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let found = origin_verify_metrics(&text);
        assert!(
            unknown(&found).is_empty(),
            "{file} names metrics nobody prints: {:?}",
            unknown(&found)
        );
        all.extend(found);
    }
    // The alarms and the dashboard cover what an operator must see (not vacuously empty).
    for needed in [
        "FailedClosed",
        "RefreshFailures",
        "SnapshotAgeMax",
        "SecondsSinceRotation",
        "DeniesNoMatch",
        "AllowsPending",
        "RotationsCompleted",
        "StepDuration",
    ] {
        assert!(
            all.contains(needed),
            "nothing in the templates shows {needed}: {all:?}"
        );
    }
}

#[test]
fn the_scan_finds_names_in_both_styles_and_flags_unknown_ones() {
    let template = r#"
      Namespace: OriginVerify
      MetricName: FailedClosed
      Metric: { Namespace: OriginVerify, MetricName: Bogus, Dimensions: [] }
      Namespace: AWS/Lambda
      MetricName: Errors
      "metrics": [["OriginVerify", "AllowsCurrent", "FunctionName", "x"], ["OriginVerify", "Nope", "F", "x"]]
    "#;
    let found = origin_verify_metrics(template);
    let expected: BTreeSet<String> = ["FailedClosed", "Bogus", "AllowsCurrent", "Nope"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, expected);
    assert_eq!(unknown(&found), vec!["Bogus", "Nope"]);
}
