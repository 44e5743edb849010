//! Configuration: every setting is an environment variable, read once at INIT into a typed struct, and
//! every error names the variable and how to fix it.

use std::time::Duration;

/// A missing or malformed configuration variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {var} {problem}: {fix}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

impl ConfigError {
    /// An error about `var`.
    pub fn new(var: &'static str, problem: &'static str, fix: &'static str) -> Self {
        Self { var, problem, fix }
    }
}

/// Typed reads of environment variables through a lookup function (`std::env::var` in production, a
/// table in tests). Blank values count as unset.
pub struct Env<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// Reads the process environment.
    pub const PROCESS: Env<'static> = Env(&process_var);

    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A value that must be set.
    pub fn required(&self, var: &'static str, fix: &'static str) -> Result<String, ConfigError> {
        self.get(var)
            .ok_or_else(|| ConfigError::new(var, "is not set", fix))
    }

    /// The value of the first of `vars` that is set.
    pub fn get_first(&self, vars: &[&str]) -> Option<String> {
        vars.iter().find_map(|var| self.get(var))
    }

    /// A value or `default`.
    pub fn string(&self, var: &'static str, default: &str) -> String {
        self.get(var).unwrap_or_else(|| default.to_owned())
    }

    /// A comma-separated list; blank items are dropped. Unset gives an empty list.
    pub fn list(&self, var: &'static str) -> Vec<String> {
        self.get(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A whole number, or `default` when unset.
    pub fn number(&self, var: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ConfigError::new(var, "is not a whole number", "use digits only, e.g. 60")),
        }
    }

    /// A duration given in whole seconds.
    pub fn seconds(&self, var: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        self.number(var, default.as_secs()).map(Duration::from_secs)
    }

    /// A duration given in whole milliseconds.
    pub fn millis(&self, var: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        self.number(var, default.as_millis() as u64)
            .map(Duration::from_millis)
    }
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A lookup over fixed pairs, for tests: `Env(&table(&[("VAR", "value")]))`.
pub fn table(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Whether `name` is a valid HTTP header name (RFC 9110 token characters).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_errors() {
        let lookup = table(&[("N", "7"), ("BAD", "7s"), ("L", " a, ,b "), ("BLANK", "  ")]);
        let env = Env(&lookup);
        assert_eq!(env.number("N", 1), Ok(7));
        assert_eq!(env.number("BLANK", 1), Ok(1));
        assert_eq!(env.number("BAD", 1).unwrap_err().var, "BAD");
        assert_eq!(env.list("L"), vec!["a", "b"]);
        assert!(env.list("UNSET").is_empty());
        assert_eq!(
            env.required("UNSET", "set it").unwrap_err().to_string(),
            "configuration error: UNSET is not set: set it"
        );
        assert_eq!(env.seconds("N", Duration::ZERO), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn header_names() {
        assert!(is_header_name("x-origin-verify"));
        assert!(!is_header_name("x origin"));
        assert!(!is_header_name(""));
    }
}
