//! The token every request must present: the function's own session token, so that only code running
//! in the function (which can read its environment) can ask the layer for secrets.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The expected token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(Zeroizing<Vec<u8>>);

impl Token {
    /// The token `value`.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value.into_bytes()))
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is the token, comparing its bytes in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_slice().ct_eq(presented))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}
