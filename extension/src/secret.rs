//! Secret values held in memory, and the constant-time comparison against a presented header.
//!
//! Every value is stored zero-padded in a fixed-size buffer of [`MAX_VALUE_LEN`] bytes, so that comparing
//! a presented header against it always touches the same number of bytes whatever either length is: the
//! comparison leaks neither the held length nor where the first difference is.
//!
//! Held values are zeroised when dropped. A presented value is not: the same bytes stay in the event the
//! runtime received, so wiping our copy would cost every request time without removing the value from
//! memory.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

/// Longest header value (in bytes) that can ever match. Longer presented values are denied without
/// comparing; a longer secret value is held as "never matches" and reported when loaded. Twice the
/// generated length (32): room for custom values, and every comparison touches only 8 words per value.
pub const MAX_VALUE_LEN: usize = 64;

const WORDS: usize = MAX_VALUE_LEN / 8;

/// A fixed-size, zero-padded copy of a byte string, compared word by word.
#[derive(Clone)]
struct Padded {
    words: [u64; WORDS],
    len: u64,
}

impl Padded {
    /// `None` when `bytes` is empty or longer than [`MAX_VALUE_LEN`].
    fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > MAX_VALUE_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_VALUE_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        let mut words = [0u64; WORDS];
        for (word, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            *word = u64::from_ne_bytes(eight);
        }
        buf.zeroize();
        Some(Self {
            words,
            len: bytes.len() as u64,
        })
    }

    /// Equal in constant time: always folds every word, then one `subtle` comparison of the fold.
    #[inline]
    fn ct_eq(&self, other: &Self) -> Choice {
        let mut diff = self.len ^ other.len;
        for (a, b) in self.words.iter().zip(other.words.iter()) {
            diff |= a ^ b;
        }
        diff.ct_eq(&0)
    }
}

/// A secret header value. Its `Debug` and `Display` never show it, and its memory is zeroised on drop.
#[derive(Clone)]
pub struct SecretValue {
    /// `None` for a value that can never match (empty or longer than [`MAX_VALUE_LEN`]).
    padded: Option<Padded>,
}

impl SecretValue {
    /// Wraps a value read from Secrets Manager.
    pub fn new(value: &str) -> Self {
        Self {
            padded: Padded::new(value.as_bytes()),
        }
    }

    /// Whether this value can ever match a presented header (it is non-empty and not over-long).
    pub fn is_matchable(&self) -> bool {
        self.padded.is_some()
    }

    /// Constant-time equality with a presented value.
    #[inline]
    pub fn ct_matches(&self, presented: &Presented) -> Choice {
        match &self.padded {
            Some(held) => held.ct_eq(&presented.0),
            None => Choice::from(0),
        }
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        if let Some(held) = self.padded.as_mut() {
            held.words.zeroize();
            held.len.zeroize();
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A header value presented by a caller, padded for comparison. Also redacted: it may be a real secret.
pub struct Presented(Padded);

impl Presented {
    /// `None` when the value is empty or longer than [`MAX_VALUE_LEN`]: such a value is denied unseen.
    #[inline]
    pub fn new(bytes: &[u8]) -> Option<Self> {
        Padded::new(bytes).map(Self)
    }
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Presented(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(held: &str, presented: &[u8]) -> bool {
        Presented::new(presented).is_some_and(|p| bool::from(SecretValue::new(held).ct_matches(&p)))
    }

    #[test]
    fn equal_values_match_and_others_do_not() {
        assert!(matches("abc", b"abc"));
        assert!(!matches("abc", b"abd"));
        assert!(!matches("abc", b"ab"));
        assert!(
            !matches("abc", b"abc\0"),
            "zero padding must not make a shorter value equal"
        );
        assert!(!matches("abc\0", b"abc"));
    }

    #[test]
    fn empty_and_oversized_values_never_match() {
        assert!(!matches("", b""));
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        assert!(!SecretValue::new(&long).is_matchable());
        assert!(!matches(&long, long.as_bytes()));
        let max = "y".repeat(MAX_VALUE_LEN);
        assert!(matches(&max, max.as_bytes()));
    }

    #[test]
    fn debug_and_display_redact() {
        let v = SecretValue::new("hunter2-secret");
        assert!(!format!("{v:?}{v}").contains("hunter2"));
        let p = Presented::new(b"hunter2-secret").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
