//! The reference reader: serde_json driving borrowed visitors. It defines what an event means (which
//! fields count, what is malformed); the fast reader (`scan`) must give the same answer for every input
//! it answers, which the differential tests and the fuzz target check. It also reads what the fast reader
//! declines.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Field, Fields, Found, Listed};

/// Reads `raw` completely (trailing whitespace only), looking for `header` (given in lower case).
/// `None`: not JSON, a field of the wrong type, or a field given twice.
pub(super) fn read<'a>(raw: &'a str, header: &str) -> Option<Fields<'a>> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let fields = FieldsSeed { header }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(fields)
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
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let Some(field) = Field::of(key.0.as_bytes()) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if !fields.first_sight(field) {
                return Err(serde::de::Error::custom("duplicate field"));
            }
            match field {
                Field::Version => fields.version = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                Field::Type => fields.kind = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                Field::RouteArn => fields.route_arn = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                Field::MethodArn => fields.method_arn = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                Field::AuthorizationToken => {
                    fields.token = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0);
                }
                Field::Headers => map.next_value_seed(HeadersSeed {
                    header: self.header,
                    found: &mut fields.header,
                })?,
                Field::MultiValueHeaders => {
                    fields.multi_count = map.next_value_seed(MultiSeed { header: self.header })?;
                }
                Field::IdentitySource => fields.identity = map.next_value_seed(ListedSeed)?,
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

/// `identitySource`: `null` (none), a string, or a list of strings of which the length and the first are
/// kept (every element is read as a string: each must be one). Which shape the payload calls for is
/// checked later, with its kind.
struct ListedSeed;

impl<'de> DeserializeSeed<'de> for ListedSeed {
    type Value = Option<Listed<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListedSeed {
    type Value = Option<Listed<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a string or a list of strings")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Listed::Text(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Listed::Text(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Listed::Text(Cow::Owned(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut len = 0;
        let mut first = None;
        while let Some(element) = seq.next_element::<Str<'de>>()? {
            if len == 0 {
                first = Some(element.0);
            }
            len += 1;
        }
        Ok(Some(Listed::List { len, first }))
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
