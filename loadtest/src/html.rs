//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

use std::fmt::Write as _;

use crate::chart::{self, Frame, P50_COLOUR, P99_COLOUR};
use crate::report::{Report, StatusClass, TargetReport};
use crate::{units, Expect, Mode};

const STYLE: &str = r#"
:root { color-scheme: light; }
body { margin: 0; background: #f4f6f8; color: #1f2933; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 0 0 10px; }
h3 { font-size: 13px; font-weight: 600; color: #52606d; margin: 14px 0 2px; }
.muted { color: #7b8794; }
.card { background: #fff; border: 1px solid #e4e7eb; border-radius: 10px; padding: 16px 20px; margin-top: 16px; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 16px; flex-wrap: wrap; }
.verdict { font-weight: 700; font-size: 15px; padding: 6px 14px; border-radius: 999px; white-space: nowrap; }
.pass { background: #dcfce7; color: #166534; }
.fail { background: #fee2e2; color: #991b1b; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 5px 10px; text-align: right; border-bottom: 1px solid #edf0f3; white-space: nowrap; }
th { font-weight: 600; color: #52606d; font-size: 12px; }
.l { text-align: left; }
td.bad { background: #fee2e2; color: #991b1b; font-weight: 700; }
td.good { color: #166534; }
.chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.line { display: inline-block; width: 16px; height: 3px; border-radius: 2px; margin-right: 5px; vertical-align: 3px; }
.legend { font-size: 12px; color: #52606d; margin: 0 0 2px; }
.legend span { margin-right: 14px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; color: #3e4c59; word-break: break-all; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: #616e7c; }
svg text.mlabel { fill: #1f2933; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg text.axis-name { font-size: 10px; fill: #9aa5b1; }
svg text.empty { font-size: 13px; fill: #9aa5b1; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dt { color: #7b8794; }
dd { margin: 0; }
"#;

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub(crate) fn render(report: &Report) -> String {
    let frame = Frame::new(report.plan.duration_ms, &report.markers);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Load report {}</title><style>{STYLE}</style></head><body><main>"#,
        escape(&report.started_at)
    );
    header(&mut out, report);
    summary(&mut out, report);
    if !report.markers.is_empty() {
        markers(&mut out, report);
    }
    for target in &report.targets {
        target_section(&mut out, target, &frame);
    }
    plan(&mut out, report);
    out.push_str("</main></body></html>\n");
    out
}

fn header(out: &mut String, report: &Report) {
    let violations = report.violations();
    let (class, verdict) = if violations == 0 {
        ("pass", "PASS · no violations".to_string())
    } else {
        (
            "fail",
            format!(
                "FAIL · {violations} violation{}",
                if violations == 1 { "" } else { "s" }
            ),
        )
    };
    let _ = write!(
        out,
        r#"<div class="top"><div><h1>origin-verify load test</h1><div class="muted">{}</div></div><div class="verdict {class}">{verdict}</div></div>"#,
        escape(&report.headline())
    );
}

fn summary(out: &mut String, report: &Report) {
    let statuses = report.status_columns();
    let show_unsent = report.targets.iter().any(|t| t.unsent > 0);
    out.push_str(r#"<section class="card" id="summary"><h2>Summary</h2><table><tr><th class="l">target</th><th class="l">expects</th><th>requests</th>"#);
    for key in &statuses {
        let _ = write!(out, r#"<th>{}{key}</th>"#, chip(key.class()));
    }
    if show_unsent {
        out.push_str(r#"<th title="due, but no in-flight slot before the end">unsent</th>"#);
    }
    out.push_str("<th>violations</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    for t in &report.targets {
        let _ = write!(
            out,
            r#"<tr><td class="l"><b>{}</b></td><td class="l">{}</td><td>{}</td>"#,
            escape(&t.name),
            expect_text(t.expect),
            t.total
        );
        for key in &statuses {
            let n = t.statuses.get(key).copied().unwrap_or(0);
            let _ = write!(
                out,
                "<td{}>{n}</td>",
                if n == 0 { r#" class="muted""# } else { "" }
            );
        }
        if show_unsent {
            let _ = write!(out, "<td>{}</td>", t.unsent);
        }
        let _ = write!(
            out,
            r#"<td class="{}">{}</td>"#,
            if t.violations == 0 { "good" } else { "bad" },
            t.violations
        );
        let l = &t.latency;
        if l.samples == 0 {
            out.push_str(r#"<td class="muted">–</td>"#.repeat(5).as_str());
        } else {
            for v in [l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us] {
                let _ = write!(out, "<td>{}</td>", units::latency(v));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    for t in report.targets.iter().filter(|t| !t.errors.is_empty()) {
        let kinds: Vec<String> = t
            .errors
            .iter()
            .map(|(k, n)| format!("{} {n}", escape(k)))
            .collect();
        let _ = write!(
            out,
            r#"<p class="muted">{}: no response: {}</p>"#,
            escape(&t.name),
            kinds.join(", ")
        );
    }
    out.push_str(
        r#"<p class="muted">Latency runs from each request's scheduled start to the end of its body, so waiting behind slow responses counts.</p></section>"#,
    );
}

fn markers(out: &mut String, report: &Report) {
    out.push_str(r#"<section class="card" id="markers"><h2>Markers</h2><table><tr><th>#</th><th>at</th><th class="l" style="width:100%">event</th></tr>"#);
    for (i, m) in report.markers.iter().enumerate() {
        let after = if m.at_ms > report.plan.duration_ms {
            r#" <span class="muted">(after the run)</span>"#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td class="l">{}{after}</td></tr>"#,
            i + 1,
            units::offset_ms(m.at_ms),
            escape(&m.label)
        );
    }
    out.push_str("</table></section>");
}

fn target_section(out: &mut String, t: &TargetReport, frame: &Frame) {
    let _ = write!(
        out,
        r#"<section class="card"><h2>{} <span class="muted" style="font-weight:400">expects {}</span></h2><code>GET {}</code>"#,
        escape(&t.name),
        expect_text(t.expect),
        escape(&t.url)
    );
    let _ = write!(
        out,
        r#"<h3>Latency per second</h3><div class="legend"><span><i class="line" style="background:{P50_COLOUR}"></i>p50</span><span><i class="line" style="background:{P99_COLOUR}"></i>p99</span><span class="muted">log scale</span></div>"#
    );
    out.push_str(&chart::latency(t, frame));
    out.push_str(r#"<h3>Responses per second</h3><div class="legend">"#);
    let present: Vec<StatusClass> = StatusClass::ALL
        .into_iter()
        .filter(|c| t.statuses.keys().any(|k| k.class() == *c))
        .collect();
    for class in &present {
        let _ = write!(out, "<span>{}{}</span>", chip(*class), class.label());
    }
    if present.is_empty() {
        out.push_str(r#"<span class="muted">no responses</span>"#);
    }
    out.push_str("</div>");
    out.push_str(&chart::responses(t, frame));
    out.push_str("</section>");
}

fn plan(out: &mut String, report: &Report) {
    let p = &report.plan;
    out.push_str(r#"<section class="card" id="plan"><h2>Plan</h2><dl>"#);
    let rows = [
        ("started", escape(&report.started_at)),
        (
            "duration",
            units::duration(std::time::Duration::from_millis(p.duration_ms)),
        ),
        ("rate", format!("{}/s per target", p.rate_per_target)),
        ("in flight", format!("at most {} per target", p.max_in_flight)),
        (
            "request timeout",
            units::duration(std::time::Duration::from_millis(p.request_timeout_ms)),
        ),
        (
            "mode",
            match p.mode {
                Mode::Local => "local (loopback targets only)".into(),
                Mode::Remote => "remote".into(),
            },
        ),
        ("run took", units::offset_ms(report.elapsed_ms)),
        ("tool", escape(&report.tool)),
    ];
    for (name, value) in rows {
        let _ = write!(out, "<dt>{name}</dt><dd>{value}</dd>");
    }
    out.push_str("</dl>");
    out.push_str(r#"<h3>Targets</h3><table><tr><th class="l">name</th><th class="l">expects</th><th class="l">URL</th><th class="l">extra headers</th></tr>"#);
    for t in &report.targets {
        let headers = if t.header_names.is_empty() {
            "–".to_string()
        } else {
            t.header_names
                .iter()
                .map(|h| format!("{}: <span class=\"muted\">(value not recorded)</span>", escape(h)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = write!(
            out,
            r#"<tr><td class="l">{}</td><td class="l">{}</td><td class="l"><code>{}</code></td><td class="l">{headers}</td></tr>"#,
            escape(&t.name),
            expect_text(t.expect),
            escape(&t.url)
        );
    }
    out.push_str("</table></section>");
}

fn chip(class: StatusClass) -> String {
    format!(
        r#"<i class="chip" style="background:{}"></i>"#,
        chart::class_colour(class)
    )
}

fn expect_text(expect: Expect) -> &'static str {
    match expect {
        Expect::Success => "2xx",
        Expect::Refused => "401/403",
        Expect::Any => "any response",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatusKey;

    #[test]
    fn escapes() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn status_key_text() {
        assert_eq!(StatusKey::Code(403).to_string(), "403");
        assert_eq!(StatusKey::Error.to_string(), "error");
    }
}
