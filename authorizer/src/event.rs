//! Borrowed, single-pass parsing of API Gateway authorizer events.
//!
//! Only what the decision needs is kept: the payload kind, the one header (found ignoring ASCII case,
//! duplicates counted), and the ARN a policy must name. Strings stay slices of the event unless JSON
//! escapes force a copy.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
    /// Not JSON, or a field of the wrong type.
    Malformed,
    /// Valid JSON, but not an authorizer payload this function knows.
    UnknownPayload,
}

impl<'a> Event<'a> {
    /// Parses `raw`, looking for `header` (given in lower case).
    pub fn parse(raw: &'a str, header: &str) -> Result<Self, Unrecognised> {
        let mut de = serde_json::Deserializer::from_str(raw);
        let fields = FieldsSeed { header }
            .deserialize(&mut de)
            .map_err(|_| Unrecognised::Malformed)?;
        de.end().map_err(|_| Unrecognised::Malformed)?;
        fields.into_event()
    }
}

#[derive(Default)]
struct Fields<'a> {
    version: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    route_arn: Option<Cow<'a, str>>,
    method_arn: Option<Cow<'a, str>>,
    token: Option<Cow<'a, str>>,
    header: Found<'a>,
    multi_count: usize,
}

impl<'a> Fields<'a> {
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

/// A JSON string borrowed from the event when it has no escapes (serde's own `Cow` always copies).
struct Str<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }

        de.deserialize_str(StrVisitor)
    }
}

struct FieldsSeed<'h> {
    header: &'h str,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Fields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an API Gateway authorizer event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const KNOWN: [&str; 7] = [
            "version",
            "type",
            "routeArn",
            "methodArn",
            "authorizationToken",
            "headers",
            "multiValueHeaders",
        ];
        let mut fields = Fields::default();
        let mut seen = [false; KNOWN.len()];
        while let Some(key) = map.next_key::<Str<'de>>()? {
            // A field given twice is ambiguous (readers disagree on which one counts): refuse the event.
            // Found by fuzzing: two "headers" objects, the header in the first only.
            if let Some(i) = KNOWN.iter().position(|k| *k == key.0) {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(serde::de::Error::custom("duplicate field"));
                }
            }
            match key.0.as_ref() {
                "version" => fields.version = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "type" => fields.kind = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "routeArn" => fields.route_arn = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "methodArn" => fields.method_arn = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "authorizationToken" => fields.token = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "headers" => map.next_value_seed(HeadersSeed {
                    header: self.header,
                    found: &mut fields.header,
                })?,
                "multiValueHeaders" => {
                    fields.multi_count = map.next_value_seed(MultiSeed { header: self.header })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// Scans the `headers` object for the header; `null` is an empty object.
struct HeadersSeed<'h, 'f, 'de> {
    header: &'h str,
    found: &'f mut Found<'de>,
}

impl<'de> DeserializeSeed<'de> for HeadersSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for HeadersSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of header names to strings")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Str<'de>>()? {
            if name.0.eq_ignore_ascii_case(self.header) {
                self.found.add(map.next_value::<Str<'de>>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Counts the header's values in `multiValueHeaders` (payload 1.0 and REST); `null` counts none.
struct MultiSeed<'h> {
    header: &'h str,
}

impl<'de> DeserializeSeed<'de> for MultiSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
        de.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MultiSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of header names to lists of strings")
    }

    fn visit_none<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
        de.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while let Some(name) = map.next_key::<Str<'de>>()? {
            if name.0.eq_ignore_ascii_case(self.header) {
                count += map.next_value_seed(CountSeq)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(count)
    }
}

/// Counts the elements of a list without keeping them.
struct CountSeq;

impl<'de> DeserializeSeed<'de> for CountSeq {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CountSeq {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(count)
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
