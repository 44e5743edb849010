//! Borrowed, single-pass parsing of API Gateway authorizer events.
//!
//! Only what the decision needs is kept: the payload kind, the one header (found ignoring ASCII case,
//! duplicates counted), and the ARN a policy must name. Strings stay slices of the event unless JSON
//! escapes force a copy.
//!
//! Two readers, one meaning. `reference` (serde_json) defines what every input means; `scan` is a
//! hand-written single pass that gives the same answer faster and without allocating (BENCHMARKS.md:
//! 602 against 758 ns for a payload 2.0 event, UTF-8 check included in both), and declines the rare
//! inputs where matching the reference would cost more code than they are worth (a JSON escape in a
//! string whose value matters, nesting deeper than 128). [`Event::parse`] uses the fast reader and falls
//! back to the reference when it declines. The tests and the fuzz target hold the two to the same answer.

use std::borrow::Cow;
use std::fmt;

mod reference;
mod scan;

/// The top-level fields that are read. Each may appear once: a field given twice is ambiguous (readers
/// disagree on which one counts), so such an event is refused (found by fuzzing: two `"headers"`
/// objects, the header in the first only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Version,
    Type,
    RouteArn,
    MethodArn,
    AuthorizationToken,
    Headers,
    MultiValueHeaders,
}

impl Field {
    const COUNT: usize = 7;

    /// The field named `key` (one `match`: a length switch, then at most one comparison).
    fn of(key: &[u8]) -> Option<Self> {
        Some(match key {
            b"version" => Self::Version,
            b"type" => Self::Type,
            b"routeArn" => Self::RouteArn,
            b"methodArn" => Self::MethodArn,
            b"authorizationToken" => Self::AuthorizationToken,
            b"headers" => Self::Headers,
            b"multiValueHeaders" => Self::MultiValueHeaders,
            _ => return None,
        })
    }
}

/// Which authorizer payload the event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// HTTP API, payload format 2.0.
    HttpV2,
    /// HTTP API, payload format 1.0.
    HttpV1,
    /// REST API, REQUEST authorizer.
    RestRequest,
    /// REST API, TOKEN authorizer.
    RestToken,
}

/// The header as found in the event. Its `Debug` never shows the value: it may be the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    /// Not in the event.
    Missing,
    /// Exactly one value.
    One(Cow<'a, str>),
    /// More than one (several keys differing in case, or several values in `multiValueHeaders`): refused.
    Duplicate,
}

impl fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Presented::Missing => "Missing",
            Presented::One(_) => "One(<redacted>)",
            Presented::Duplicate => "Duplicate",
        })
    }
}

/// The parts of an authorizer event that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The payload kind.
    pub kind: EventKind,
    /// The origin-verify header (for TOKEN events: the `authorizationToken`).
    pub header: Presented<'a>,
    /// `routeArn` (payload 2.0) or `methodArn`, when present.
    pub arn: Option<Cow<'a, str>>,
}

/// Why an event could not be understood. Such events are denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecognised {
    /// Not JSON (or not UTF-8), a field of the wrong type, or a field given twice.
    Malformed,
    /// Valid JSON, but not an authorizer payload this function knows.
    UnknownPayload,
}

impl<'a> Event<'a> {
    /// Parses the event's bytes, looking for `header` (given in lower case). Bytes that are not UTF-8 are
    /// malformed, as Lambda only delivers JSON.
    pub fn parse<R: AsRef<[u8]> + ?Sized>(raw: &'a R, header: &str) -> Result<Self, Unrecognised> {
        match Self::parse_fast(raw, header) {
            Some(parsed) => parsed,
            None => Self::parse_reference(raw, header),
        }
    }

    /// The fast reader alone: `None` when it declines the input (see the module's notes). Public for the
    /// differential tests, the fuzz target and the benchmarks.
    pub fn parse_fast<R: AsRef<[u8]> + ?Sized>(
        raw: &'a R,
        header: &str,
    ) -> Option<Result<Self, Unrecognised>> {
        match scan::read(raw.as_ref(), header) {
            Ok(fields) => Some(fields.into_event()),
            Err(scan::Stop::Malformed) => Some(Err(Unrecognised::Malformed)),
            Err(scan::Stop::Decline) => None,
        }
    }

    /// The reference reader alone (a UTF-8 check, then serde_json): what every input means.
    pub fn parse_reference<R: AsRef<[u8]> + ?Sized>(raw: &'a R, header: &str) -> Result<Self, Unrecognised> {
        let text = std::str::from_utf8(raw.as_ref()).map_err(|_| Unrecognised::Malformed)?;
        reference::read(text, header)
            .ok_or(Unrecognised::Malformed)?
            .into_event()
    }
}

/// What either reader collects; [`Fields::into_event`] gives it meaning (one place for both).
#[derive(Default)]
struct Fields<'a> {
    /// Which fields were met so far.
    seen: [bool; Field::COUNT],
    version: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    route_arn: Option<Cow<'a, str>>,
    method_arn: Option<Cow<'a, str>>,
    token: Option<Cow<'a, str>>,
    header: Found<'a>,
    multi_count: usize,
}

impl<'a> Fields<'a> {
    /// Records that `field` was met; `false` when it already was (the event is then refused).
    fn first_sight(&mut self, field: Field) -> bool {
        !std::mem::replace(&mut self.seen[field as usize], true)
    }

    fn into_event(self) -> Result<Event<'a>, Unrecognised> {
        let kind = match (self.version.as_deref(), self.kind.as_deref()) {
            (Some("2.0"), _) => EventKind::HttpV2,
            (Some("1.0"), _) => EventKind::HttpV1,
            (None, Some("REQUEST")) => EventKind::RestRequest,
            (None, Some("TOKEN")) => EventKind::RestToken,
            _ => return Err(Unrecognised::UnknownPayload),
        };
        let header = match kind {
            EventKind::RestToken => match self.token {
                Some(t) => Presented::One(t),
                None => Presented::Missing,
            },
            _ if self.multi_count > 1 => Presented::Duplicate,
            _ => self.header.into_presented(),
        };
        let arn = match kind {
            EventKind::HttpV2 => self.route_arn,
            _ => self.method_arn,
        };
        Ok(Event { kind, header, arn })
    }
}

/// Occurrences of the header among the `headers` keys.
#[derive(Default)]
enum Found<'a> {
    #[default]
    None,
    One(Cow<'a, str>),
    Many,
}

impl<'a> Found<'a> {
    fn add(&mut self, value: Cow<'a, str>) {
        *self = match self {
            Found::None => Found::One(value),
            _ => Found::Many,
        };
    }

    fn into_presented(self) -> Presented<'a> {
        match self {
            Found::None => Presented::Missing,
            Found::One(v) => Presented::One(v),
            Found::Many => Presented::Duplicate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "x-origin-verify";

    fn header(raw: &str) -> Presented<'_> {
        Event::parse(raw, H).unwrap().header
    }

    #[test]
    fn kinds_are_recognised() {
        let kind = |raw| Event::parse(raw, H).map(|e| e.kind);
        assert_eq!(
            kind(r#"{"version":"2.0","type":"REQUEST"}"#),
            Ok(EventKind::HttpV2)
        );
        assert_eq!(
            kind(r#"{"version":"1.0","type":"REQUEST"}"#),
            Ok(EventKind::HttpV1)
        );
        assert_eq!(kind(r#"{"type":"REQUEST"}"#), Ok(EventKind::RestRequest));
        assert_eq!(kind(r#"{"type":"TOKEN"}"#), Ok(EventKind::RestToken));
        assert_eq!(kind(r#"{"version":"3.0"}"#), Err(Unrecognised::UnknownPayload));
        assert_eq!(kind(r#"{"type":"OTHER"}"#), Err(Unrecognised::UnknownPayload));
        assert_eq!(kind("[1,2]"), Err(Unrecognised::Malformed));
        assert_eq!(kind(r#"{"version":2}"#), Err(Unrecognised::Malformed));
        assert_eq!(
            kind(r#"{"version":"2.0"} trailing"#),
            Err(Unrecognised::Malformed)
        );
    }

    #[test]
    fn header_is_found_ignoring_case_and_duplicates_are_refused() {
        let v2 = |h: &str| format!(r#"{{"version":"2.0","headers":{h}}}"#);
        assert_eq!(
            header(&v2(r#"{"X-Origin-Verify":"abc"}"#)),
            Presented::One("abc".into())
        );
        assert_eq!(header(&v2(r#"{"a":"b"}"#)), Presented::Missing);
        assert_eq!(header(&v2("null")), Presented::Missing);
        assert_eq!(
            header(&v2(r#"{"x-origin-verify":"a","X-ORIGIN-VERIFY":"b"}"#)),
            Presented::Duplicate
        );
        assert_eq!(
            header(&v2(r#"{"x-origin-verify":"a\u0041"}"#)),
            Presented::One("aA".into())
        );
        let rest = r#"{"type":"REQUEST","headers":{"x-origin-verify":"b"},
            "multiValueHeaders":{"x-origin-verify":["a","b"]}}"#;
        assert_eq!(header(rest), Presented::Duplicate);
        let rest_one = r#"{"type":"REQUEST","headers":{"x-origin-verify":"b"},
            "multiValueHeaders":{"x-origin-verify":["b"]}}"#;
        assert_eq!(header(rest_one), Presented::One("b".into()));
        assert_eq!(
            header(r#"{"type":"TOKEN","authorizationToken":"t"}"#),
            Presented::One("t".into())
        );
        assert_eq!(header(r#"{"type":"TOKEN"}"#), Presented::Missing);
    }

    #[test]
    fn debug_output_never_shows_the_value() {
        let e = Event::parse(
            r#"{"version":"2.0","headers":{"x-origin-verify":"hunter2-value"}}"#,
            H,
        )
        .unwrap();
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }

    #[test]
    fn arn_follows_the_payload_kind() {
        let e = Event::parse(r#"{"version":"2.0","routeArn":"r","methodArn":"m"}"#, H).unwrap();
        assert_eq!(e.arn.as_deref(), Some("r"));
        let e = Event::parse(r#"{"type":"REQUEST","routeArn":"r","methodArn":"m"}"#, H).unwrap();
        assert_eq!(e.arn.as_deref(), Some("m"));
    }
}
