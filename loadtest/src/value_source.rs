//! Where a header's value comes from, when that value may be the secret: a file or an environment
//! variable, never the command line.
//!
//! Every user of the machine can read any process's command line (`ps`, `/proc/PID/cmdline`). A file has
//! permissions of its own, and `/proc/PID/environ` is readable by the process's owner only.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use crate::Error;

/// The longest value read from a file. Far beyond any header a server accepts (8–16 KiB for the whole
/// header section is usual); a larger file is the wrong file, and is not read into memory.
pub const MAX_VALUE_BYTES: u64 = 8 * 1024;

/// Where a header's value is read from.
#[derive(Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// The file's content, trailing line breaks dropped (`echo VALUE > FILE` writes one). At most
    /// [`MAX_VALUE_BYTES`].
    File(PathBuf),
    /// The environment variable of this name.
    Env(String),
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueSource::File(path) => write!(f, "file {}", path.display()),
            ValueSource::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// The path or the variable's name only: never a value.
impl fmt::Debug for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl ValueSource {
    /// Reads the value for header `header`. Errors name the header and the source, never the value (nor
    /// any part of the file).
    pub fn read(&self, header: &str) -> Result<String, Error> {
        let fail = |reason: String| Error::HeaderValue {
            header: header.to_owned(),
            from: self.to_string(),
            reason,
        };
        let value = match self {
            ValueSource::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
                let mut bytes = Vec::new();
                // One byte past the limit tells a file at the limit from a larger one.
                file.take(MAX_VALUE_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| fail(e.to_string()))?;
                if bytes.len() as u64 > MAX_VALUE_BYTES {
                    return Err(fail(format!("larger than {MAX_VALUE_BYTES} bytes")));
                }
                String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?
            }
            ValueSource::Env(name) => std::env::var(name).map_err(|e| {
                fail(match e {
                    std::env::VarError::NotPresent => "not set".into(),
                    std::env::VarError::NotUnicode(_) => "not UTF-8".into(),
                })
            })?,
        };
        let value = value.trim_end_matches(['\r', '\n']);
        if value.trim().is_empty() {
            return Err(fail("empty".into()));
        }
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, content: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("origin-verify-load-value-{name}-{}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn a_file_gives_its_content_without_the_line_break() {
        let path = scratch("ok", b"s3cret-value\r\n");
        assert_eq!(
            ValueSource::File(path.clone()).read("x-origin-verify").unwrap(),
            "s3cret-value"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn errors_name_the_source_and_never_the_value() {
        let empty = scratch("empty", b"\n");
        let big = scratch("big", &[b'v'; MAX_VALUE_BYTES as usize + 1]);
        let binary = scratch("binary", b"s3cret\xff");
        let cases = [
            (ValueSource::File(empty.clone()), "empty"),
            (ValueSource::File(big.clone()), "larger than"),
            (ValueSource::File(binary.clone()), "not UTF-8"),
            (
                ValueSource::File("/nonexistent/value".into()),
                "/nonexistent/value",
            ),
            (
                ValueSource::Env("ORIGIN_VERIFY_LOAD_UNIT_TEST_UNSET".into()),
                "ORIGIN_VERIFY_LOAD_UNIT_TEST_UNSET",
            ),
        ];
        for (source, expected) in cases {
            let message = source.read("x-origin-verify").unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("x-origin-verify"), "{message}");
            assert!(
                !message.contains("s3cret") && !message.contains("vvvv"),
                "{message}"
            );
        }
        for path in [empty, big, binary] {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn debug_shows_where_not_what() {
        let source = ValueSource::Env("HEADER_VALUE".into());
        assert_eq!(format!("{source:?}"), "environment variable HEADER_VALUE");
    }
}
