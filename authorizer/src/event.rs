//! Borrowed, single-pass parsing of API Gateway authorizer events.
//!
//! Only what the decision needs is kept: the payload kind, the one header (found ignoring ASCII case,
//! duplicates counted), the identity source (HTTP API payloads), and the ARN a policy must name. Strings
//! stay slices of the event unless JSON escapes force a copy.
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
    IdentitySource,
}

impl Field {
    const COUNT: usize = 8;

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
            b"identitySource" => Self::IdentitySource,
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

/// `identitySource` as an HTTP API event carries it: the values of the identity sources the authorizer is
/// configured with, which API Gateway uses as the key of its authorizer cache. Its `Debug` never shows the
/// value: configured as it should be, it is the header's value, which may be the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum IdentitySource<'a> {
    /// No identity source: the field absent or `null`, which is what API Gateway sends when the authorizer
    /// has none (then it caches nothing: it refuses a result TTL without identity sources). Always so for
    /// REST events, which carry no such field.
    Absent,
    /// One value: payload 1.0's string, or payload 2.0's list of exactly one string.
    One(Cow<'a, str>),
    /// Payload 2.0's list with another number of elements than one (none, or two and more): never the
    /// header alone.
    Elements(usize),
}

impl IdentitySource<'_> {
    /// Whether an answer about the header value `header` may be given for this event. API Gateway caches
    /// the answer under the identity sources' values, so that key must be exactly the value checked — or
    /// there must be no key at all. Otherwise another identity source (Host, a query string) with a TTL
    /// would make one CloudFront request's allow the answer for every request with the same Host.
    pub fn admits(&self, header: &str) -> bool {
        match self {
            IdentitySource::Absent => true,
            // Plain equality is enough: both sides come from the request itself (API Gateway copies the
            // identity source out of it), not from the held values. How long it takes shows where two
            // strings the caller sent differ, which tells the caller nothing it did not know; the held
            // values are compared only in the cache, in constant time.
            IdentitySource::One(value) => value == header,
            IdentitySource::Elements(_) => false,
        }
    }
}

impl fmt::Debug for IdentitySource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::Absent => f.write_str("Absent"),
            IdentitySource::One(_) => f.write_str("One(<redacted>)"),
            IdentitySource::Elements(n) => write!(f, "Elements({n})"),
        }
    }
}

/// The parts of an authorizer event that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The payload kind.
    pub kind: EventKind,
    /// The origin-verify header (for TOKEN events: the `authorizationToken`).
    pub header: Presented<'a>,
    /// `identitySource` (HTTP API payloads; [`IdentitySource::Absent`] for REST events).
    pub identity: IdentitySource<'a>,
    /// `routeArn` (payload 2.0) or `methodArn`, when present.
    pub arn: Option<Cow<'a, str>>,
}

/// Why an event could not be understood. Such events are denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecognised {
    /// Not JSON (or not UTF-8), a field of the wrong type (`identitySource`: the other payload's shape
    /// too), or a field given twice.
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
    /// `identitySource` unless absent or `null`.
    identity: Option<Listed<'a>>,
}

/// A field that is a string or a list of strings, kept without a `Vec`: the list's length and first
/// element are all that a decision needs.
enum Listed<'a> {
    Text(Cow<'a, str>),
    List { len: usize, first: Option<Cow<'a, str>> },
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
        let identity = match (kind, self.identity) {
            (EventKind::RestRequest | EventKind::RestToken, _) | (_, None) => IdentitySource::Absent,
            (
                EventKind::HttpV2,
                Some(Listed::List {
                    len: 1,
                    first: Some(value),
                }),
            ) => IdentitySource::One(value),
            (EventKind::HttpV2, Some(Listed::List { len, .. })) => IdentitySource::Elements(len),
            (EventKind::HttpV1, Some(Listed::Text(value))) => IdentitySource::One(value),
            // Payload 2.0 sends a list and 1.0 a string: the other shape is no event API Gateway sends.
            (EventKind::HttpV2 | EventKind::HttpV1, Some(_)) => return Err(Unrecognised::Malformed),
        };
        let arn = match kind {
            EventKind::HttpV2 => self.route_arn,
            _ => self.method_arn,
        };
        Ok(Event {
            kind,
            header,
            identity,
            arn,
        })
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
    fn identity_source_is_read_for_http_payloads_only() {
        fn identity(raw: &str) -> Result<IdentitySource<'_>, Unrecognised> {
            Event::parse(raw, H).map(|e| e.identity)
        }
        let v2 = |i: &str| format!(r#"{{"version":"2.0","identitySource":{i}}}"#);
        let v1 = |i: &str| format!(r#"{{"version":"1.0","identitySource":{i}}}"#);
        assert_eq!(identity(&v2(r#"["a"]"#)), Ok(IdentitySource::One("a".into())));
        assert_eq!(
            identity(&v2(r#"["a\u0041"]"#)),
            Ok(IdentitySource::One("aA".into()))
        );
        assert_eq!(identity(&v2("[]")), Ok(IdentitySource::Elements(0)));
        assert_eq!(identity(&v2(r#"["a","b"]"#)), Ok(IdentitySource::Elements(2)));
        assert_eq!(identity(&v2("null")), Ok(IdentitySource::Absent));
        assert_eq!(identity(r#"{"version":"2.0"}"#), Ok(IdentitySource::Absent));
        assert_eq!(identity(&v1(r#""a,b""#)), Ok(IdentitySource::One("a,b".into())));
        assert_eq!(identity(&v1(r#""""#)), Ok(IdentitySource::One("".into())));
        assert_eq!(identity(&v1("null")), Ok(IdentitySource::Absent));
        // Each payload's own shape only; a field given twice is refused.
        assert_eq!(identity(&v2(r#""a""#)), Err(Unrecognised::Malformed));
        assert_eq!(identity(&v1(r#"["a"]"#)), Err(Unrecognised::Malformed));
        assert_eq!(identity(&v2("[1]")), Err(Unrecognised::Malformed));
        assert_eq!(
            identity(r#"{"version":"2.0","identitySource":null,"identitySource":["a"]}"#),
            Err(Unrecognised::Malformed)
        );
        // REST events have none: what is there is ignored.
        let rest = r#"{"type":"REQUEST","identitySource":["a","b"]}"#;
        assert_eq!(identity(rest), Ok(IdentitySource::Absent));
    }

    #[test]
    fn identity_source_admits_exactly_its_one_value() {
        assert!(IdentitySource::Absent.admits("v"));
        assert!(IdentitySource::One("v".into()).admits("v"));
        for other in ["", "V", "v ", "v,v", "w"] {
            assert!(!IdentitySource::One("v".into()).admits(other), "{other}");
        }
        assert!(!IdentitySource::One("".into()).admits("v"));
        for n in [0, 1, 2] {
            assert!(!IdentitySource::Elements(n).admits("v"), "{n}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_value() {
        let e = Event::parse(
            r#"{"version":"2.0","identitySource":["hunter2-value"],"headers":{"x-origin-verify":"hunter2-value"}}"#,
            H,
        )
        .unwrap();
        assert!(matches!(e.identity, IdentitySource::One(_)));
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
