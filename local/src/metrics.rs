//! The functions' metrics, read back from the CloudWatch EMF lines they print into their logs: what
//! CloudWatch would make of them, before anything is deployed.
//!
//! Every line that looks like EMF is held to the format ([`crate::emf::validate`]) and to
//! origin-verify's own contract: namespace `OriginVerify`; only names from
//! [`crate::emf::names`]; dimension `FunctionName` naming the function whose log it is, plus
//! `Step` on the rotator's step metrics and nothing else; counts in `Count`, the gauges in a time unit;
//! finite values, never negative. A line that breaks a rule is reported, not counted.
//!
//! Totals per function and metric (and per step): counts are summed, the gauges (`…Max`, `…Seconds`,
//! `StepDuration`) keep their largest value — as a CloudWatch `Sum` or `Maximum` over the whole run would.

use std::collections::BTreeMap;
use std::path::Path;

use crate::emf::{looks_like_emf, names, validate, MetricValue};
use serde::Serialize;

/// How a metric's values over the run combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Aggregate {
    /// Counts: summed.
    Sum,
    /// Gauges: the largest.
    Max,
}

impl Aggregate {
    /// How `name` combines: the gauges keep their maximum, every other metric is a count.
    pub fn of(name: &str) -> Self {
        const GAUGES: &[&str] = &[
            names::SNAPSHOT_AGE_MAX,
            names::MISS_WAIT_MAX,
            names::SECONDS_SINCE_ROTATION,
            names::STEP_DURATION,
            names::ROTATION_SECONDS,
            names::PROPAGATION_WAIT_SECONDS,
            names::DEPLOY_WAIT_SECONDS,
        ];
        if GAUGES.contains(&name) {
            Aggregate::Max
        } else {
            Aggregate::Sum
        }
    }

    /// Whether `unit` suits a metric combined this way.
    fn accepts(self, unit: &str) -> bool {
        match self {
            Aggregate::Sum => unit == "Count",
            Aggregate::Max => matches!(unit, "Seconds" | "Milliseconds"),
        }
    }
}

/// One metric's total over the run, for one function.
#[derive(Debug, Clone, Serialize)]
pub struct MetricTotal {
    /// The metric's name.
    pub name: String,
    /// Dimensions besides `FunctionName` (the rotator's `Step`), sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Its unit.
    pub unit: String,
    /// Summed or maximum.
    pub aggregate: Aggregate,
    /// The sum or the maximum.
    pub value: f64,
    /// How many lines carried it.
    pub samples: u64,
}

impl MetricTotal {
    /// The name with its other dimensions, e.g. `StepSucceeded[createSecret]`.
    pub fn label(&self) -> String {
        if self.dimensions.is_empty() {
            self.name.clone()
        } else {
            let dims: Vec<&str> = self.dimensions.iter().map(|(_, v)| v.as_str()).collect();
            format!("{}[{}]", self.name, dims.join(","))
        }
    }
}

/// One function's metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionMetrics {
    /// Valid EMF lines read.
    pub lines: u64,
    /// Totals, by name then dimensions.
    pub totals: Vec<MetricTotal>,
}

impl FunctionMetrics {
    /// The total of `name` without other dimensions (0 when never printed).
    pub fn value(&self, name: &str) -> f64 {
        self.value_with(name, &[])
    }

    /// The total of `name` with exactly `dimensions` besides `FunctionName` (0 when never printed).
    pub fn value_with(&self, name: &str, dimensions: &[(&str, &str)]) -> f64 {
        self.totals
            .iter()
            .find(|t| {
                t.name == name
                    && t.dimensions.len() == dimensions.len()
                    && t.dimensions
                        .iter()
                        .zip(dimensions)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map_or(0.0, |t| t.value)
    }

    /// The sum of every total whose name starts with `prefix` (e.g. every `Denies…`).
    pub fn sum_prefixed(&self, prefix: &str) -> f64 {
        self.totals
            .iter()
            .filter(|t| t.name.starts_with(prefix))
            .map(|t| t.value)
            .sum()
    }
}

/// A line that looked like EMF and broke a rule.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidLine {
    /// The log it was in.
    pub log: String,
    /// Its line number, from 1.
    pub line: usize,
    /// The rule it broke.
    pub reason: String,
}

/// Every function's metrics, from their logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmfReadout {
    /// By function name (the `FunctionName` dimension).
    pub functions: BTreeMap<String, FunctionMetrics>,
    /// Lines that broke a rule (not counted).
    pub invalid: Vec<InvalidLine>,
}

impl EmfReadout {
    /// Reads `log`, the output of `function`'s process. A missing log holds no lines.
    pub fn read_log(&mut self, function: &str, log: &Path) {
        let text = std::fs::read(log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let name = log
            .file_name()
            .map_or_else(|| log.display().to_string(), |n| n.to_string_lossy().into_owned());
        self.read_text(function, &name, &text);
    }

    /// Reads the EMF lines in `text` (the log named `log` of `function`'s process).
    pub fn read_text(&mut self, function: &str, log: &str, text: &str) {
        for (n, line) in text.lines().enumerate() {
            if !looks_like_emf(line) {
                continue;
            }
            match check(line, function) {
                Ok(values) => self.add(function, values),
                Err(reason) => self.invalid.push(InvalidLine {
                    log: log.to_owned(),
                    line: n + 1,
                    reason,
                }),
            }
        }
    }

    /// `function`'s metrics, if it printed any valid line.
    pub fn function(&self, function: &str) -> Option<&FunctionMetrics> {
        self.functions.get(function)
    }

    /// Valid lines read from all functions.
    pub fn lines(&self) -> u64 {
        self.functions.values().map(|f| f.lines).sum()
    }

    fn add(&mut self, function: &str, values: Vec<MetricValue>) {
        let metrics = self.functions.entry(function.to_owned()).or_default();
        metrics.lines += 1;
        for v in values {
            let dimensions = other_dimensions(&v);
            let aggregate = Aggregate::of(&v.name);
            let unit = v.unit.unwrap_or_default();
            match metrics
                .totals
                .iter_mut()
                .find(|t| t.name == v.name && t.dimensions == dimensions)
            {
                Some(total) => {
                    total.samples += 1;
                    total.value = match aggregate {
                        Aggregate::Sum => total.value + v.value,
                        Aggregate::Max => total.value.max(v.value),
                    };
                }
                None => metrics.totals.push(MetricTotal {
                    name: v.name,
                    dimensions,
                    unit,
                    aggregate,
                    value: v.value,
                    samples: 1,
                }),
            }
        }
        metrics
            .totals
            .sort_by_cached_key(|t| (order(&t.name), step_order(&t.dimensions)));
    }

    /// The metrics for the summary: per function, one metric a line.
    pub fn summary(&self, expected: &[&str]) -> String {
        let mut out = String::from(
            "function metrics (read back from their EMF lines; counts summed, gauges at their maximum):\n",
        );
        for function in expected {
            if !self.functions.contains_key(*function) {
                out.push_str(&format!("  {function}: no metric lines\n"));
            }
        }
        for (function, metrics) in &self.functions {
            out.push_str(&format!("  {function} ({} lines):\n", metrics.lines));
            for t in &metrics.totals {
                let max = if t.aggregate == Aggregate::Max {
                    " (max)"
                } else {
                    ""
                };
                let line = format!(
                    "    {:<36} {:>10} {}{max}",
                    t.label(),
                    number(t.value),
                    unit_suffix(&t.unit),
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        if !self.invalid.is_empty() {
            out.push_str(&format!("  INVALID EMF lines: {}\n", self.invalid.len()));
            for bad in self.invalid.iter().take(5) {
                out.push_str(&format!("    {}:{}: {}\n", bad.log, bad.line, bad.reason));
            }
        }
        out
    }

    /// The same as an HTML section (a `card` in the load report's style), to add to `report.html`.
    pub fn html_section(&self, expected: &[&str]) -> String {
        let mut out = String::from(
            "<section class=\"card\" id=\"function-metrics\"><h2>Function metrics</h2>\
             <p class=\"muted\">Read back from the CloudWatch EMF lines the functions printed into their \
             logs: counts summed over the run, gauges at their maximum.</p>",
        );
        for function in expected {
            if !self.functions.contains_key(*function) {
                out.push_str(&format!(
                    "<h3>{}</h3><p class=\"muted\">no metric lines</p>",
                    escape(function)
                ));
            }
        }
        for (function, metrics) in &self.functions {
            out.push_str(&format!(
                "<h3>{} ({} lines)</h3><table><tr><th class=\"l\">metric</th><th>value</th>\
                 <th class=\"l\">unit</th><th class=\"l\">over the run</th><th>lines</th></tr>",
                escape(function),
                metrics.lines
            ));
            for t in &metrics.totals {
                out.push_str(&format!(
                    "<tr><td class=\"l\"><code>{}</code></td><td>{}</td><td class=\"l\">{}</td>\
                     <td class=\"l\">{}</td><td>{}</td></tr>",
                    escape(&t.label()),
                    number(t.value),
                    escape(&t.unit),
                    if t.aggregate == Aggregate::Max {
                        "maximum"
                    } else {
                        "sum"
                    },
                    t.samples
                ));
            }
            out.push_str("</table>");
        }
        if !self.invalid.is_empty() {
            out.push_str(&format!(
                "<h3>Invalid EMF lines: {}</h3><table>",
                self.invalid.len()
            ));
            for bad in &self.invalid {
                out.push_str(&format!(
                    "<tr><td class=\"l bad\">{}:{}</td><td class=\"l\">{}</td></tr>",
                    escape(&bad.log),
                    bad.line,
                    escape(&bad.reason)
                ));
            }
            out.push_str("</table>");
        }
        out.push_str("</section>");
        out
    }
}

/// Adds `section` to the HTML page `page` before its closing `</main>` (the load report's layout), or at
/// its end if it has none.
pub fn insert_section(page: &str, section: &str) -> String {
    match page.rfind("</main>") {
        Some(at) => format!("{}{section}{}", &page[..at], &page[at..]),
        None => format!("{page}{section}\n"),
    }
}

/// `line`'s values, if it follows the format and origin-verify's contract for `function`'s log.
fn check(line: &str, function: &str) -> Result<Vec<MetricValue>, String> {
    let values = validate(line)?;
    let mut units: BTreeMap<&str, &str> = BTreeMap::new();
    for v in &values {
        if v.namespace != names::NAMESPACE {
            return Err(format!("namespace {} is not {}", v.namespace, names::NAMESPACE));
        }
        if !names::all().any(|n| n == v.name) {
            return Err(format!("metric {} is not in shared::emf::names", v.name));
        }
        let step_metric = names::ROTATOR_STEP.contains(&v.name.as_str());
        let mut dims: Vec<&str> = v.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        dims.sort_unstable();
        let expected: &[&str] = if step_metric {
            &[names::FUNCTION, names::STEP]
        } else {
            &[names::FUNCTION]
        };
        if dims != expected {
            return Err(format!(
                "metric {}: dimensions {dims:?}, expected {expected:?}",
                v.name
            ));
        }
        let printed_by = v
            .dimensions
            .iter()
            .find(|(k, _)| k == names::FUNCTION)
            .map(|(_, value)| value.as_str());
        if printed_by != Some(function) {
            return Err(format!(
                "metric {}: {} is not {function}",
                v.name,
                names::FUNCTION
            ));
        }
        let unit = v.unit.as_deref().unwrap_or("");
        if !Aggregate::of(&v.name).accepts(unit) {
            return Err(format!("metric {}: unit {unit:?} does not suit it", v.name));
        }
        if units.insert(v.name.as_str(), unit).is_some() {
            return Err(format!("metric {} defined twice", v.name));
        }
        if !v.value.is_finite() || v.value < 0.0 {
            return Err(format!(
                "metric {}: value {} is not a finite non-negative number",
                v.name, v.value
            ));
        }
    }
    Ok(values)
}

/// The dimensions besides `FunctionName`, sorted.
fn other_dimensions(v: &MetricValue) -> Vec<(String, String)> {
    let mut dims: Vec<(String, String)> = v
        .dimensions
        .iter()
        .filter(|(k, _)| k != names::FUNCTION)
        .cloned()
        .collect();
    dims.sort();
    dims
}

/// A metric's place in `names` (the README's order), unknown names last.
fn order(name: &str) -> usize {
    names::all().position(|n| n == name).unwrap_or(usize::MAX)
}

/// Steps in Secrets Manager's order, then any other dimension values by name.
fn step_order(dimensions: &[(String, String)]) -> Vec<(usize, String)> {
    dimensions
        .iter()
        .map(|(k, v)| {
            let at = crate::driver::STEPS
                .iter()
                .position(|s| k == names::STEP && s == v);
            (at.unwrap_or(usize::MAX), v.clone())
        })
        .collect()
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

fn unit_suffix(unit: &str) -> &'static str {
    match unit {
        "Seconds" => "s",
        "Milliseconds" => "ms",
        _ => "",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emf::{Emf, Unit};
    use std::time::SystemTime;

    fn authorizer_line(allows: f64, denies: f64, age: f64) -> String {
        Emf::new(names::NAMESPACE, &[(names::FUNCTION, "authorizer")])
            .metric("AllowsCurrent", Unit::Count, allows)
            .metric("DeniesNoMatch", Unit::Count, denies)
            .metric(names::SNAPSHOT_AGE_MAX, Unit::Seconds, age)
            .line(SystemTime::now())
    }

    fn step_line(step: &str, ms: f64) -> String {
        Emf::new(
            names::NAMESPACE,
            &[(names::FUNCTION, "rotator"), (names::STEP, step)],
        )
        .metric(names::STEP_DURATION, Unit::Milliseconds, ms)
        .metric(names::STEP_SUCCEEDED, Unit::Count, 1.0)
        .metric(names::STEP_FAILED, Unit::Count, 0.0)
        .line(SystemTime::now())
    }

    #[test]
    fn counts_are_summed_and_gauges_kept_at_their_maximum_per_function_and_step() {
        let mut readout = EmfReadout::default();
        let authorizer_log = format!(
            " INFO secret refreshed sm_calls=2 pid=1\n{}\nDEBUG something\n{}\n",
            authorizer_line(3.0, 1.0, 2.5),
            authorizer_line(4.0, 0.0, 1.0)
        );
        readout.read_text("authorizer", "authorizer.log", &authorizer_log);
        let rotator_log = [
            step_line("createSecret", 12.0),
            step_line("setSecret", 7000.0),
            step_line("createSecret", 30.0),
            step_line("finishSecret", 50.0),
        ]
        .join("\n");
        readout.read_text("rotator", "rotator.log", &rotator_log);
        assert!(readout.invalid.is_empty(), "{:?}", readout.invalid);

        let a = readout.function("authorizer").expect("authorizer");
        assert_eq!(a.lines, 2);
        assert_eq!(a.value("AllowsCurrent"), 7.0);
        assert_eq!(a.sum_prefixed("Denies"), 1.0);
        assert_eq!(a.value(names::SNAPSHOT_AGE_MAX), 2.5);
        let r = readout.function("rotator").expect("rotator");
        assert_eq!(r.lines, 4);
        let create = [(names::STEP, "createSecret")];
        assert_eq!(r.value_with(names::STEP_SUCCEEDED, &create), 2.0);
        assert_eq!(r.value_with(names::STEP_DURATION, &create), 30.0);
        assert_eq!(
            r.value_with(names::STEP_SUCCEEDED, &[(names::STEP, "setSecret")]),
            1.0
        );
        assert_eq!(r.value(names::STEP_SUCCEEDED), 0.0, "only per step");

        let summary = readout.summary(&["authorizer", "rotator", "backend"]);
        assert!(summary.contains("AllowsCurrent"), "{summary}");
        assert!(summary.contains("StepSucceeded[createSecret]"), "{summary}");
        assert!(summary.contains("backend: no metric lines"), "{summary}");
        let at = |label: &str| summary.find(label).expect(label);
        assert!(
            at("StepDuration[setSecret]") < at("StepDuration[finishSecret]"),
            "steps in Secrets Manager's order: {summary}"
        );
        let page = insert_section(
            "<html><body><main><p>load</p></main></body></html>",
            &readout.html_section(&["authorizer"]),
        );
        assert!(
            page.contains("</p><section class=\"card\" id=\"function-metrics\">"),
            "{page}"
        );
        assert!(page.ends_with("</section></main></body></html>"), "{page}");
    }

    #[test]
    fn a_line_breaking_a_rule_is_reported_not_counted() {
        let good = authorizer_line(1.0, 0.0, 0.0);
        let broken = [
            (good.replace("Timestamp", "Stamp"), "Timestamp"),
            (good.replace("\"OriginVerify\"", "\"Other\""), "namespace"),
            (
                good.replace("AllowsCurrent", "AllowsEveryone"),
                "not in shared::emf::names",
            ),
            (good.replace("\"authorizer\"", "\"rotator\""), "is not authorizer"),
            (
                good.replace("\"Unit\":\"Count\"", "\"Unit\":\"Seconds\""),
                "does not suit",
            ),
            (
                good.replace("\"AllowsCurrent\":1.0", "\"AllowsCurrent\":-1.0"),
                "non-negative",
            ),
            (
                good.replace("[[\"FunctionName\"]]", "[[\"FunctionName\",\"Step\"]]")
                    .replace(
                        "\"FunctionName\":\"authorizer\"",
                        "\"FunctionName\":\"authorizer\",\"Step\":\"x\"",
                    ),
                "dimensions",
            ),
            ("{\"_aws\": broken".to_owned(), "not JSON"),
        ];
        for (line, why) in &broken {
            let mut readout = EmfReadout::default();
            readout.read_text(
                "authorizer",
                "authorizer.log",
                &format!("INFO a\n{good}\n{line}\n"),
            );
            assert_eq!(readout.invalid.len(), 1, "{line}");
            assert_eq!(readout.invalid[0].line, 3);
            assert!(
                readout.invalid[0].reason.contains(why),
                "{line}: {}",
                readout.invalid[0].reason
            );
            assert_eq!(
                readout
                    .function("authorizer")
                    .map(|a| (a.lines, a.value("AllowsCurrent"))),
                Some((1, 1.0)),
                "only the good line counts"
            );
        }
    }
}
