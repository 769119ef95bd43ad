//! The one error type of berth and its mapping to exit codes.
//!
//! Lower crates build `Error` values directly (they are small); the subject
//! names the container or image an error is about so every message the user
//! sees is one line naming the thing and what was wrong.

use std::fmt;

/// What went wrong, independent of which object it happened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// No container matches the given name, ID or ID prefix.
    NoSuchContainer,
    /// No image matches the given reference or ID.
    NoSuchImage,
    /// An ID prefix matched several objects; the full IDs are listed.
    AmbiguousId {
        /// Every full ID the prefix matched.
        candidates: Vec<String>,
    },
    /// The name is already taken by another container.
    NameInUse,
    /// The operation is not allowed in the container's current state.
    StateImproper {
        /// The state the container was in.
        state: String,
        /// The operation that was refused.
        op: String,
    },
    /// Something else depends on the object (an image used by a container...).
    InUse,
    /// A lock could not be taken in time.
    LockTimeout,
    /// The OCI runtime (runc/crun) failed; the text is its stderr.
    Runtime,
    /// Bad user input: a malformed name, flag value or archive.
    InvalidInput,
    /// Image or layer storage failed.
    Storage,
    /// The state database failed or is corrupt.
    Database,
    /// An operating-system call failed.
    Io,
    /// The container's command could not be invoked (exit 126).
    CannotInvoke,
    /// The container's command was not found (exit 127).
    CommandNotFound,
    /// A bug or an unexpected condition.
    Internal,
}

/// berth's error: a kind, the object it is about and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The container or image (name or ID) the error is about, if any.
    pub subject: Option<String>,
    /// A one-line description of what went wrong.
    pub message: String,
}

/// Result alias used across berth.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            subject: None,
            message: one_line(&message.into()),
        }
    }

    /// Attach the container or image this error is about.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Prefix the message with more context ("creating container x: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// "no such container" error for `what`.
    pub fn no_such_container(what: &str) -> Self {
        Error::new(
            ErrorKind::NoSuchContainer,
            format!("no container with name or ID \"{what}\" found: no such container"),
        )
        .with_subject(what)
    }

    /// "no such image" error for `what`.
    pub fn no_such_image(what: &str) -> Self {
        Error::new(ErrorKind::NoSuchImage, format!("{what}: image not known")).with_subject(what)
    }

    /// Invalid user input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Wrap an I/O error with what was being done.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }

    /// Internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// The process exit code the CLI uses for this error (Podman's rules):
    /// 126 when the container command cannot be invoked, 127 when it is not
    /// found, 125 for every engine error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::CannotInvoke => 126,
            ErrorKind::CommandNotFound => 127,
            _ => 125,
        }
    }
}

/// Errors are shown on one line: newlines from runtimes are folded.
fn one_line(s: &str) -> String {
    let folded: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    folded.join("; ")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, err.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::new(ErrorKind::Internal, format!("decoding JSON: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_podman() {
        assert_eq!(Error::new(ErrorKind::CannotInvoke, "x").exit_code(), 126);
        assert_eq!(Error::new(ErrorKind::CommandNotFound, "x").exit_code(), 127);
        assert_eq!(Error::no_such_container("x").exit_code(), 125);
        assert_eq!(Error::invalid("x").exit_code(), 125);
    }

    #[test]
    fn messages_are_one_line() {
        let e = Error::new(
            ErrorKind::Runtime,
            "runc failed\n  reason one\n\nreason two\n",
        );
        assert_eq!(e.message, "runc failed; reason one; reason two");
    }
}
