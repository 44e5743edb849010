//! The one error type of the crate.

use std::io;

/// Why a load run (or its set-up) could not go ahead.
///
/// Responses that do not match their target's expectation are not errors: they are counted as
/// violations in the [`Report`](crate::Report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plan names no target.
    #[error("no targets: give at least one URL to load")]
    NoTargets,

    /// Two targets share a name; the report is keyed by name, so they must differ.
    #[error("two targets are named {0:?}; give each target its own name")]
    DuplicateTarget(String),

    /// A target URL does not parse, or is not `http`/`https`.
    #[error("target {target:?}: bad URL {url:?}: {reason}")]
    BadUrl {
        /// The target's name.
        target: String,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Local mode met a target whose host is not a loopback address.
    #[error(
        "target {target:?}: {url} is not on a loopback address (127.0.0.0/8, ::1, localhost); \
         local mode refuses it without sending anything. Pass --remote (Mode::Remote) to load a remote host"
    )]
    NotLoopback {
        /// The target's name.
        target: String,
        /// The URL as given.
        url: String,
    },

    /// A header name or value is not valid HTTP. The value itself is never shown: it may be the secret.
    #[error("target {target:?}: header {name:?} is not a valid HTTP header: {reason}")]
    BadHeader {
        /// The target's name.
        target: String,
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A header's value could not be read from its file or environment variable. Neither the value nor
    /// any part of the file is shown.
    #[error("header {header:?}: no value from {from}: {reason}")]
    HeaderValue {
        /// The header name.
        header: String,
        /// The file or variable, as [`ValueSource`](crate::ValueSource) displays it.
        from: String,
        /// What is wrong (not set, empty, unreadable, ...).
        reason: String,
    },

    /// A plan parameter is out of range (zero rate, zero duration, ...).
    #[error("bad plan: {0}")]
    InvalidPlan(String),

    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),

    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A rotation could not be started or failed.
    #[error("rotation {n}: {message}")]
    Rotation {
        /// Which rotation (1-based).
        n: usize,
        /// What went wrong.
        message: String,
    },
}
