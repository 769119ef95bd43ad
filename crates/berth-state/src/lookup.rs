//! Name / ID / ID-prefix resolution, shared by every store so the rules
//! cannot drift between them.

use berth_types::{id, Error, ErrorKind, Result};

/// How many candidate IDs an ambiguity message lists before "and N more".
const MAX_LISTED: usize = 5;

/// Resolve `input` against `candidates` — `(id, name)` pairs that contain at
/// least every container whose name equals `input` or whose ID starts with
/// it (extra pairs are ignored). Podman's order:
///
/// 1. a container *named* `input` wins, even if `input` also prefixes
///    another container's ID;
/// 2. else a container whose full ID is `input`;
/// 3. else, when `input` is lowercase hex, the one container whose ID starts
///    with it; several give [`ErrorKind::AmbiguousId`] listing them all.
///
/// Nothing found is [`Error::no_such_container`].
pub fn resolve<I, S, T>(input: &str, candidates: I) -> Result<String>
where
    I: IntoIterator<Item = (S, T)>,
    S: AsRef<str>,
    T: AsRef<str>,
{
    let mut by_prefix: Vec<String> = Vec::new();
    let mut exact_id = None;
    let hex = id::is_hex(input);
    for (cid, name) in candidates {
        let (cid, name) = (cid.as_ref(), name.as_ref());
        if name == input {
            return Ok(cid.to_string());
        }
        if cid == input {
            exact_id = Some(cid.to_string());
        } else if hex && cid.starts_with(input) {
            by_prefix.push(cid.to_string());
        }
    }
    if let Some(cid) = exact_id {
        return Ok(cid);
    }
    match by_prefix.len() {
        0 => Err(Error::no_such_container(input)),
        1 => Ok(by_prefix.remove(0)),
        n => {
            by_prefix.sort();
            let mut listed = by_prefix[..n.min(MAX_LISTED)].join(", ");
            if n > MAX_LISTED {
                listed.push_str(&format!(" and {} more", n - MAX_LISTED));
            }
            Err(Error::new(
                ErrorKind::AmbiguousId {
                    candidates: by_prefix,
                },
                format!(
                    "more than one result for container \"{input}\": ambiguous ID prefix \
                     matches {n} containers: {listed}"
                ),
            )
            .with_subject(input))
        }
    }
}

/// The half-open key range `[input, input + "g")` holding every lowercase-hex
/// ID that starts with `input` — lets SQLite answer a prefix query from the
/// primary-key index. `None` when `input` is not hex (no prefix match then).
pub(crate) fn hex_prefix_range(input: &str) -> Option<(String, String)> {
    // 'g' sorts right after 'f', the largest hex digit, so every ID with
    // this prefix is below `input + "g"` and nothing else in between is hex.
    id::is_hex(input).then(|| (input.to_string(), format!("{input}g")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let a = "ab12".to_string() + &"0".repeat(60);
        let b = "ab34".to_string() + &"0".repeat(60);
        let cs = [(a.as_str(), "web"), (b.as_str(), "ab")];
        assert_eq!(resolve("web", cs).unwrap(), a);
        // Name "ab" beats the ambiguous prefix "ab".
        assert_eq!(resolve("ab", cs).unwrap(), b);
        assert_eq!(resolve("ab1", cs).unwrap(), a);
        assert_eq!(resolve(&b, cs).unwrap(), b);
        let err = resolve("a", cs).unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::AmbiguousId {
                candidates: vec![a.clone(), b.clone()]
            }
        );
        assert_eq!(
            err.message,
            format!(
                "more than one result for container \"a\": ambiguous ID prefix matches 2 \
                 containers: {a}, {b}"
            )
        );
        assert_eq!(
            resolve("AB", cs).unwrap_err().kind,
            ErrorKind::NoSuchContainer
        );
        assert_eq!(
            resolve("", cs).unwrap_err().kind,
            ErrorKind::NoSuchContainer
        );
        assert_eq!(
            resolve("zz", cs).unwrap_err().kind,
            ErrorKind::NoSuchContainer
        );
    }

    #[test]
    fn many_candidates_are_capped_in_the_message() {
        let ids: Vec<String> = (0..8).map(|i| format!("a{i}{}", "0".repeat(62))).collect();
        let err = resolve("a", ids.iter().map(|i| (i, "x"))).unwrap_err();
        assert!(err.message.ends_with("and 3 more"), "{}", err.message);
        assert!(matches!(err.kind, ErrorKind::AmbiguousId { candidates } if candidates.len() == 8));
    }

    #[test]
    fn prefix_range() {
        assert_eq!(
            hex_prefix_range("ab"),
            Some(("ab".to_string(), "abg".to_string()))
        );
        assert_eq!(hex_prefix_range("xy"), None);
    }
}
