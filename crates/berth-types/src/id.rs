//! Container IDs and names: what is valid, and how prefixes match.

use crate::error::{Error, Result};

/// Length of a full container or image ID in hex digits.
pub const FULL_ID_LEN: usize = 64;
/// Length of the short ID shown by `ps` and friends.
pub const SHORT_ID_LEN: usize = 12;
/// Longest accepted container name.
pub const MAX_NAME_LEN: usize = 253;

/// True when `s` is 64 lowercase hex digits.
pub fn is_full_id(s: &str) -> bool {
    s.len() == FULL_ID_LEN && is_hex(s)
}

/// True when `s` is non-empty lowercase hex (a candidate ID prefix).
pub fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The 12-character short form of an ID.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(SHORT_ID_LEN)]
}

/// Validate a container (or pod, volume) name the way Podman does:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 253 characters.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid container name {name:?}: {why}; names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        ))
        .with_subject(name)
    };
    let mut bytes = name.bytes();
    match bytes.next() {
        None => return Err(bad("name is empty")),
        Some(b) if !b.is_ascii_alphanumeric() => {
            return Err(bad("must start with a letter or digit"))
        }
        Some(_) => {}
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(&format!("longer than {MAX_NAME_LEN} characters")));
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        return Err(bad("contains a character that is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web", "web-1", "a.b_c", "0abc", &"x".repeat(253)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            "-x",
            ".x",
            "_x",
            "ä",
            "a b",
            &"x".repeat(300),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        assert!(is_full_id(&"a".repeat(64)));
        assert!(!is_full_id(&"A".repeat(64)));
        assert!(!is_full_id(&"a".repeat(63)));
        assert_eq!(short_id(&"ab".repeat(32)), "abababababab");
    }
}
