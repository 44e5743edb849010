//! The header value inside a Secrets Manager `SecretString`: a JSON object holding it under a key (the
//! stack stores `{"HEADERVALUE": "..."}`), or the whole string when it is not a JSON object.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::value::RawValue;
use zeroize::Zeroizing;

/// A string that must never be shown: `Debug` and `Display` redact it; its memory is zeroised on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(Zeroizing<String>);

impl Sensitive {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The value itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(<redacted>)")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How a secret holds its header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFormat {
    /// A JSON object; the value is under `key`, other keys are kept as they are.
    Json {
        /// The key of the header value.
        key: String,
    },
    /// The whole `SecretString` is the value.
    Plain,
}

/// A secret's header value together with its format.
#[derive(Debug, Clone)]
pub struct HeaderSecret {
    /// The header value.
    pub value: Sensitive,
    /// Where it sits in the secret.
    pub format: SecretFormat,
}

impl HeaderSecret {
    /// Reads the header value from `secret`: under `key` when `secret` is a JSON object, else the whole
    /// string. The error says what is wrong without quoting the secret.
    pub fn parse(secret: &str, key: &str) -> Result<Self, String> {
        // Borrowed parse: the object's values stay slices of `secret`, so no copy of it is left behind.
        let Ok(object) = serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(secret) else {
            return Ok(Self {
                value: Sensitive::new(secret.to_owned()),
                format: SecretFormat::Plain,
            });
        };
        let raw = object
            .get(key)
            .ok_or_else(|| format!("the JSON secret has no key {key:?} (check the configured secret key)"))?;
        let value = serde_json::from_str::<Cow<'_, str>>(raw.get())
            .map_err(|_| format!("the value under key {key:?} is not a string"))?;
        Ok(Self {
            value: Sensitive::new(value.into_owned()),
            format: SecretFormat::Json { key: key.to_owned() },
        })
    }

    /// The `SecretString` for `new_value` in the same format as `current` (other JSON keys kept).
    pub fn render(&self, current: &str, new_value: &str) -> Result<Sensitive, String> {
        match &self.format {
            SecretFormat::Plain => Ok(Sensitive::new(new_value.to_owned())),
            SecretFormat::Json { key } => {
                let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(current)
                    .map_err(|_| "the current secret is no longer a JSON object")?;
                object.insert(key.clone(), serde_json::Value::String(new_value.to_owned()));
                let rendered =
                    serde_json::to_string(&object).map_err(|_| "cannot serialise the new secret")?;
                // The map's copy of the value is dropped here without zeroising: serde_json has no hook for it.
                Ok(Sensitive::new(rendered))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_plain_values_are_read() {
        let s = HeaderSecret::parse(r#"{"HEADERVALUE":"abc","other":1}"#, "HEADERVALUE").unwrap();
        assert_eq!(
            (s.value.expose(), &s.format),
            (
                "abc",
                &SecretFormat::Json {
                    key: "HEADERVALUE".into()
                }
            )
        );
        let s = HeaderSecret::parse(r#"{"K":"a\"b"}"#, "K").unwrap();
        assert_eq!(s.value.expose(), "a\"b");
        for plain in ["plain-value", "12345", "[1]"] {
            let s = HeaderSecret::parse(plain, "HEADERVALUE").unwrap();
            assert_eq!((s.value.expose(), &s.format), (plain, &SecretFormat::Plain));
        }
    }

    #[test]
    fn errors_do_not_quote_the_value() {
        let missing = HeaderSecret::parse(r#"{"OTHER":"topsecret"}"#, "HEADERVALUE").unwrap_err();
        assert!(missing.contains("HEADERVALUE") && !missing.contains("topsecret"));
        let wrong_type = HeaderSecret::parse(r#"{"HEADERVALUE":12345678}"#, "HEADERVALUE").unwrap_err();
        assert!(wrong_type.contains("not a string") && !wrong_type.contains("12345678"));
    }

    #[test]
    fn render_keeps_the_format_and_other_keys() {
        let current = r#"{"HEADERVALUE":"old","note":"kept"}"#;
        let s = HeaderSecret::parse(current, "HEADERVALUE").unwrap();
        let new: serde_json::Value =
            serde_json::from_str(s.render(current, "new").unwrap().expose()).unwrap();
        assert_eq!(new, serde_json::json!({"HEADERVALUE": "new", "note": "kept"}));
        let plain = HeaderSecret::parse("old", "HEADERVALUE").unwrap();
        assert_eq!(plain.render("old", "new").unwrap().expose(), "new");
    }

    #[test]
    fn sensitive_redacts() {
        let s = Sensitive::new("hunter2".into());
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
