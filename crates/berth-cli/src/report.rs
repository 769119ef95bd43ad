//! Printing errors and choosing exit codes (Podman's conventions).

use berth_core::{Error, ErrorKind};

/// A process exit code.
pub type Exit = i32;

/// Print one error line and return its exit code.
pub fn fail(e: &Error) -> Exit {
    eprintln!("Error: {e}");
    e.exit_code()
}

/// Print an error that is not berth's own (template errors, I/O on stdout).
pub fn fail_any(e: &anyhow::Error) -> Exit {
    eprintln!("Error: {e:#}");
    125
}

/// Podman's prune prompt: "WARNING! This command removes" WHAT and a y/N
/// question on stderr; true when the answer is yes.
pub fn confirm(what: &str) -> bool {
    eprint!("WARNING! This command removes{what}\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// Collects the outcome of a command applied to several containers: each
/// failure is printed as it happens, the exit code is the last failure's.
#[derive(Default)]
pub struct Outcome {
    code: Exit,
    only_missing: bool,
    any_error: bool,
}

impl Outcome {
    /// Record one failure.
    pub fn error(&mut self, e: &Error) {
        self.code = fail(e);
        self.only_missing =
            (!self.any_error || self.only_missing) && e.kind == ErrorKind::NoSuchContainer;
        self.any_error = true;
    }

    /// The exit code: 0, or the last failure's code. With
    /// `missing_is_1`, failures that were all "no such container" give 1
    /// (Podman's `rm`).
    pub fn exit(&self, missing_is_1: bool) -> Exit {
        if !self.any_error {
            0
        } else if missing_is_1 && self.only_missing {
            1
        } else {
            self.code
        }
    }
}
