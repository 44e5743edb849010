//! SVG charts of one target over the run: latency (p50/p99 per second) and responses per second
//! stacked by status class, with the timeline markers drawn across both.

use std::fmt::Write as _;

use crate::html::escape;
use crate::report::{Second, StatusClass, TargetReport};
use crate::{units, Marker};

/// Width of every chart in SVG units (the page scales it to the column).
const WIDTH: f64 = 1000.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const BOTTOM: f64 = 24.0;
const PLOT_HEIGHT: f64 = 170.0;
const LABEL_ROW: f64 = 15.0;
/// Marker labels longer than this are shortened on the charts (the markers table has them whole).
const LABEL_CHARS: usize = 44;

pub(crate) const P50_COLOUR: &str = "#2563eb";
pub(crate) const P99_COLOUR: &str = "#c026d3";

/// The colour of a status class: green for through, amber for refused, red for failures.
pub(crate) fn class_colour(class: StatusClass) -> &'static str {
    match class {
        StatusClass::Success => "#22c55e",
        StatusClass::Redirect => "#94a3b8",
        StatusClass::Refused => "#f59e0b",
        StatusClass::OtherClientError => "#a855f7",
        StatusClass::ServerError => "#ef4444",
        StatusClass::TransportError => "#991b1b",
    }
}

/// The time axis and the marker labels, shared by every chart of a report so they line up.
pub(crate) struct Frame {
    duration_s: f64,
    markers: Vec<PlacedMarker>,
    label_rows: usize,
}

struct PlacedMarker {
    number: usize,
    at_s: f64,
    row: usize,
    /// The whole label, for the tooltip.
    full: String,
    shown: Shown,
}

/// What is written next to a marker's line.
enum Shown {
    /// Its number and (shortened) label.
    Label(String),
    /// Its number only: too crowded for words.
    Number,
    /// Nothing: too crowded even for the number (the tooltip and the markers table still have it).
    Nothing,
}

/// Rows of marker labels at most; beyond that crowded markers show their number only.
const MAX_LABEL_ROWS: usize = 4;

impl Frame {
    pub(crate) fn new(duration_ms: u64, markers: &[Marker]) -> Self {
        let duration_s = (duration_ms as f64 / 1000.0).max(0.001);
        let mut frame = Frame {
            duration_s,
            markers: Vec::new(),
            label_rows: 0,
        };
        // Greedy rows: a label goes on the first row where it does not run into the previous one, so
        // "started" and "done" a second apart stay readable.
        let mut row_ends: Vec<f64> = Vec::new();
        for (i, m) in markers.iter().enumerate() {
            let at_s = m.at_ms as f64 / 1000.0;
            if at_s > duration_s {
                continue; // after the run: listed in the table, not drawn
            }
            let number = i + 1;
            let x = frame.x(at_s);
            let short = shorten(&m.label, LABEL_CHARS);
            let with_words = label_span(x, &format!("{number} {short}"));
            let number_only = label_span(x, &number.to_string());
            let free_row = |(start, _): (f64, f64), ends: &[f64]| ends.iter().position(|&e| e + 4.0 <= start);

            let (row, shown) = if let Some(row) = free_row(with_words, &row_ends) {
                row_ends[row] = with_words.1;
                (row, Shown::Label(short))
            } else if row_ends.len() < MAX_LABEL_ROWS {
                row_ends.push(with_words.1);
                (row_ends.len() - 1, Shown::Label(short))
            } else if let Some(row) = free_row(number_only, &row_ends) {
                row_ends[row] = number_only.1;
                (row, Shown::Number)
            } else {
                (MAX_LABEL_ROWS - 1, Shown::Nothing)
            };
            frame.markers.push(PlacedMarker {
                number,
                at_s,
                row,
                full: m.label.clone(),
                shown,
            });
        }
        frame.label_rows = row_ends.len();
        frame
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + (t / self.duration_s).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    fn top(&self, extra: f64) -> f64 {
        10.0 + self.label_rows as f64 * LABEL_ROW + extra
    }

    /// Vertical grid lines and labels of the time axis.
    fn time_axis(&self, out: &mut String, top: f64, bottom: f64) {
        let step = nice_time_step(self.duration_s);
        let mut t = 0.0;
        while t <= self.duration_s + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#eef0f3"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 15.0,
                if t == 0.0 {
                    "0".to_string()
                } else {
                    units::duration(std::time::Duration::from_secs_f64(t))
                },
            );
            t += step;
        }
    }

    /// Every marker as a dashed line over the plot, with its number and label above it. Lines first,
    /// then labels, so no line runs through a label.
    fn markers(&self, out: &mut String, plot_top: f64, bottom: f64) {
        let label_y = |m: &PlacedMarker| 10.0 + m.row as f64 * LABEL_ROW + 10.0;
        for m in &self.markers {
            let x = self.x(m.at_s);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#334155" stroke-width="1.2" stroke-dasharray="4 3"><title>{number}: {full} (at {at})</title></line>"##,
                number = m.number,
                full = escape(&m.full),
                at = units::offset_ms((m.at_s * 1000.0) as u64),
                y0 = (label_y(m) - 9.0).min(plot_top),
            );
        }
        for m in &self.markers {
            let (text, words) = match &m.shown {
                Shown::Label(label) => (format!("{} {label}", m.number), format!(" {}", escape(label))),
                Shown::Number => (m.number.to_string(), String::new()),
                Shown::Nothing => continue,
            };
            let x = self.x(m.at_s);
            let (start, _) = label_span(x, &text);
            let (anchor, tx) = if start < x {
                ("end", x - 4.0)
            } else {
                ("start", x + 4.0)
            };
            // A white box behind the words: other markers' lines pass under this row.
            let width = text_width(&text) + 2.0;
            let box_x = if start < x { x - 3.0 - width } else { x + 3.0 };
            let _ = write!(
                out,
                r##"<rect x="{box_x:.1}" y="{:.1}" width="{width:.1}" height="13" fill="#fff"/>"##,
                label_y(m) - 10.0
            );
            let _ = write!(
                out,
                r##"<text x="{tx:.1}" y="{y:.1}" text-anchor="{anchor}" class="mlabel"><title>{full}</title><tspan font-weight="700">{number}</tspan>{words}</text>"##,
                number = m.number,
                full = escape(&m.full),
                y = label_y(m),
            );
        }
    }
}

/// Where a marker label at `x` sits: to the right of the line, or to its left near the right edge.
fn label_span(x: f64, text: &str) -> (f64, f64) {
    let width = text_width(text) + 10.0;
    if x + width > WIDTH - RIGHT {
        (x - width, x)
    } else {
        (x, x + width)
    }
}

/// p50 and p99 latency per second, on a log scale (so a spike and the steady state both stay legible).
pub(crate) fn latency(target: &TargetReport, frame: &Frame) -> String {
    let top = frame.top(4.0);
    let bottom = top + PLOT_HEIGHT;
    let height = bottom + BOTTOM;
    let mut out = svg_open(height, &format!("Latency per second of {}", target.name));

    let values = target.seconds.iter().flat_map(|s| [s.p50_us, s.p99_us]).flatten();
    let (lo, hi) = values.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v.max(1)), hi.max(v.max(1))));
    frame.time_axis(&mut out, top, bottom);
    if hi == 0 {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="empty">no responses</text>"#,
            WIDTH / 2.0,
            (top + bottom) / 2.0
        );
    } else {
        // Whole decades, at least one.
        let lo_exp = (lo as f64).log10().floor();
        let mut hi_exp = (hi as f64).log10().ceil();
        if hi_exp <= lo_exp {
            hi_exp = lo_exp + 1.0;
        }
        let y = |us: u64| {
            let v = (us.max(1) as f64).log10();
            bottom - (v - lo_exp) / (hi_exp - lo_exp) * (bottom - top)
        };
        // Ticks at 1-2-5 when few decades are shown, at every decade otherwise.
        let decades = (hi_exp - lo_exp) as i32;
        let minor: &[f64] = if decades <= 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        for e in (lo_exp as i32)..=(hi_exp as i32) {
            for m in minor {
                let v = m * 10f64.powi(e);
                if v > 10f64.powf(hi_exp) * 1.0001 {
                    continue;
                }
                let yy = y(v.round() as u64);
                let major = *m == 1.0;
                let _ = write!(
                    out,
                    r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                    WIDTH - RIGHT,
                    if major { "#dfe3e8" } else { "#f1f3f5" },
                    LEFT - 6.0,
                    yy + 4.0,
                    units::tick_latency(v),
                );
            }
        }
        for (pick, colour) in [
            (
                &(|s: &Second| s.p99_us) as &dyn Fn(&Second) -> Option<u64>,
                P99_COLOUR,
            ),
            (&|s: &Second| s.p50_us, P50_COLOUR),
        ] {
            series(&mut out, frame, target, pick, &y, colour);
        }
    }
    axis_frame(&mut out, top, bottom);
    frame.markers(&mut out, top, bottom);
    out.push_str("</svg>");
    out
}

/// One latency line, broken where a second had no response, with dots where a point stands alone.
fn series(
    out: &mut String,
    frame: &Frame,
    target: &TargetReport,
    pick: &dyn Fn(&Second) -> Option<u64>,
    y: &dyn Fn(u64) -> f64,
    colour: &str,
) {
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for s in &target.seconds {
        let mid = (f64::from(s.second) + 0.5).min(frame.duration_s);
        match pick(s) {
            Some(v) => runs.last_mut().expect("never empty").push((frame.x(mid), y(v))),
            None => runs.push(Vec::new()),
        }
    }
    for run in runs.iter().filter(|r| !r.is_empty()) {
        if run.len() == 1 {
            let (x, yy) = run[0];
            let _ = write!(
                out,
                r#"<circle cx="{x:.1}" cy="{yy:.1}" r="2.5" fill="{colour}"/>"#
            );
            continue;
        }
        let points: Vec<String> = run.iter().map(|(x, yy)| format!("{x:.1},{yy:.1}")).collect();
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>"#,
            points.join(" ")
        );
    }
}

/// Responses per second stacked by status class, with a strip above marking seconds with violations.
pub(crate) fn responses(target: &TargetReport, frame: &Frame) -> String {
    let strip = 14.0;
    let top = frame.top(4.0 + strip);
    let bottom = top + PLOT_HEIGHT;
    let height = bottom + BOTTOM;
    let mut out = svg_open(height, &format!("Responses per second of {}", target.name));

    let peak = target.seconds.iter().map(Second::total).max().unwrap_or(0);
    let (step, ceiling) = nice_count_axis(peak);
    let y = |n: f64| bottom - n / ceiling * (bottom - top);
    frame.time_axis(&mut out, top, bottom);
    let mut tick = 0.0;
    while tick <= ceiling + 1e-9 {
        let yy = y(tick);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#dfe3e8"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            units::trim_number(tick),
        );
        tick += step;
    }

    // The violations strip: grey when clean, red seconds where any response missed the expectation.
    let strip_y = top - strip;
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{strip_y:.1}" width="{:.1}" height="8" fill="#eef2f5"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="axis-name">violations</text>"##,
        WIDTH - LEFT - RIGHT,
        LEFT - 6.0,
        strip_y + 8.0
    );
    for s in &target.seconds {
        let (x0, x1) = (frame.x(f64::from(s.second)), frame.x(f64::from(s.second) + 1.0));
        if s.violations > 0 {
            let _ = write!(
                out,
                r##"<rect x="{x0:.1}" y="{strip_y:.1}" width="{:.1}" height="8" fill="#dc2626"><title>{}s: {} violations</title></rect>"##,
                (x1 - x0).max(1.0),
                s.second,
                s.violations
            );
        }
        let gap = if x1 - x0 > 4.0 { 1.0 } else { 0.0 };
        let mut stacked = 0.0;
        for class in StatusClass::ALL {
            let count: u64 = s
                .statuses
                .iter()
                .filter(|(k, _)| k.class() == class)
                .map(|(_, n)| n)
                .sum();
            if count == 0 {
                continue;
            }
            let (y_top, y_bottom) = (y(stacked + count as f64), y(stacked));
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{y_top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}s: {count} × {}</title></rect>"#,
                x0 + gap / 2.0,
                (x1 - x0 - gap).max(0.5),
                y_bottom - y_top,
                class_colour(class),
                s.second,
                class.label(),
            );
            stacked += count as f64;
        }
    }
    axis_frame(&mut out, top, bottom);
    frame.markers(&mut out, top, bottom);
    out.push_str("</svg>");
    out
}

fn svg_open(height: f64, title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    )
}

fn axis_frame(out: &mut String, top: f64, bottom: f64) {
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{top:.1}" x2="{LEFT}" y2="{bottom:.1}" stroke="#9ca3af"/><line x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#9ca3af"/>"##,
        WIDTH - RIGHT
    );
}

/// About how wide a label is at the charts' 11px font.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.1
}

fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

/// A tick step giving at most about ten labels on the time axis.
fn nice_time_step(duration_s: f64) -> f64 {
    const STEPS: [f64; 16] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
    ];
    STEPS
        .into_iter()
        .find(|s| duration_s / s <= 10.0)
        .unwrap_or(7200.0)
}

/// Step and top of a count axis: 1-2-5 steps, four or five of them.
fn nice_count_axis(peak: u64) -> (f64, f64) {
    if peak == 0 {
        return (1.0, 1.0);
    }
    let rough = peak as f64 / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude)
        .max(1.0);
    (step, (peak as f64 / step).ceil() * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_axis() {
        assert_eq!(nice_count_axis(50), (20.0, 60.0));
        assert_eq!(nice_count_axis(3), (1.0, 3.0));
        assert_eq!(nice_count_axis(1000), (500.0, 1000.0));
    }

    #[test]
    fn close_markers_get_separate_rows() {
        let markers = [
            Marker {
                at_ms: 10_000,
                label: "rotation 1 started".into(),
            },
            Marker {
                at_ms: 10_400,
                label: "rotation 1 done (exit 0, 0.4s)".into(),
            },
            Marker {
                at_ms: 25_000,
                label: "rotation 2 started".into(),
            },
        ];
        let frame = Frame::new(30_000, &markers);
        let rows: Vec<usize> = frame.markers.iter().map(|m| m.row).collect();
        assert_eq!(rows, vec![0, 1, 0]);
        assert_eq!(frame.label_rows, 2);
    }

    #[test]
    fn crowded_markers_fall_back_to_numbers() {
        let markers: Vec<Marker> = (0..12)
            .map(|i| Marker {
                at_ms: 10_000 + i * 100,
                label: format!("rotation step {i} done"),
            })
            .collect();
        let frame = Frame::new(30_000, &markers);
        assert_eq!(frame.label_rows, MAX_LABEL_ROWS);
        assert!(frame.markers[..MAX_LABEL_ROWS]
            .iter()
            .all(|m| matches!(m.shown, Shown::Label(_))));
        assert!(frame.markers[MAX_LABEL_ROWS..]
            .iter()
            .all(|m| !matches!(m.shown, Shown::Label(_))));
    }
}
