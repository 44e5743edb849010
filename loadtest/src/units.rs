//! Formatting of times and durations for people (summary, HTML, progress line).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A latency in microseconds, with about three significant digits: `850µs`, `1.23ms`, `45.6ms`, `1.20s`.
pub(crate) fn latency(us: u64) -> String {
    let us_f = us as f64;
    match us {
        0..=999 => format!("{us}µs"),
        1_000..=9_999 => format!("{:.2}ms", us_f / 1e3),
        10_000..=99_999 => format!("{:.1}ms", us_f / 1e3),
        100_000..=999_999 => format!("{:.0}ms", us_f / 1e3),
        1_000_000..=9_999_999 => format!("{:.2}s", us_f / 1e6),
        _ => format!("{:.1}s", us_f / 1e6),
    }
}

/// An axis tick in microseconds, without trailing zeros: `100µs`, `2ms`, `1s`, `1.5s`.
pub(crate) fn tick_latency(us: f64) -> String {
    let (value, unit) = if us >= 1e6 {
        (us / 1e6, "s")
    } else if us >= 1e3 {
        (us / 1e3, "ms")
    } else {
        (us, "µs")
    };
    format!("{}{unit}", trim_number(value))
}

/// A number with at most two decimals and no trailing zeros.
pub(crate) fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// A duration given in milliseconds: `950ms`, `12.3s`, `2m05s`.
pub(crate) fn offset_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1e3),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// A plan duration: `30s`, `1m30s`, `1.5s`, `250ms`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms % 1000 != 0 {
        return format!("{}s", trim_number(d.as_secs_f64()));
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC timestamp, to the second: `2026-05-01T10:00:00Z`.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (the usual era-based conversion: 400-year
/// eras of 146 097 days, years counted from March so the leap day comes last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = u32::try_from(day_of_year - (153 * month_from_march + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    })
    .unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599_000), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(1_709_251_200_000), "2024-03-01T00:00:00Z");
    }

    #[test]
    fn latencies() {
        assert_eq!(latency(850), "850µs");
        assert_eq!(latency(1_234), "1.23ms");
        assert_eq!(latency(45_678), "45.7ms");
        assert_eq!(latency(1_200_000), "1.20s");
        assert_eq!(tick_latency(2_000.0), "2ms");
        assert_eq!(tick_latency(100.0), "100µs");
        assert_eq!(tick_latency(1_500_000.0), "1.5s");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(offset_ms(10_240), "10.2s");
        assert_eq!(offset_ms(125_000), "2m05s");
    }
}
