//! Screening of path and query parameters (RELIABILITY 53): `..`, NUL and
//! over-long values are refused with 400 before any handler runs, so a bad
//! name can never reach the engine or the filesystem.

use axum::http::Uri;

/// Longest decoded path segment accepted (IDs are 64, names far shorter).
pub const MAX_SEGMENT: usize = 512;
/// Longest decoded query value accepted (filters are JSON, so allow more).
pub const MAX_QUERY_VALUE: usize = 8192;

/// Every value of `key` in a raw query string (Docker repeats keys:
/// `names=a&names=b`, `changes=CMD ..&changes=ENV ..`), decoded.
pub fn query_values(raw: Option<&str>, key: &str) -> Vec<String> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| String::from_utf8_lossy(&percent_decode(v, true)).into_owned())
        .collect()
}

/// Percent-decode `s` (and `+` as space when `form`). Invalid escapes are
/// kept literally, as Go's lenient decoders do.
pub fn percent_decode(s: &str, form: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if form => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn check_value(what: &str, v: &[u8], max: usize) -> Result<(), String> {
    if v.contains(&0) {
        return Err(format!("invalid {what}: contains a NUL byte"));
    }
    if v.windows(2).any(|w| w == b"..") {
        return Err(format!("invalid {what}: contains \"..\""));
    }
    if v.len() > max {
        return Err(format!("invalid {what}: longer than {max} bytes"));
    }
    Ok(())
}

/// Check every path segment and query key/value of `uri`.
pub fn screen(uri: &Uri) -> Result<(), String> {
    for seg in uri.path().split('/') {
        check_value("path parameter", &percent_decode(seg, false), MAX_SEGMENT)?;
    }
    if let Some(q) = uri.query() {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            check_value("query parameter", &percent_decode(k, true), MAX_SEGMENT)?;
            check_value(
                &format!("query parameter {k}"),
                &percent_decode(v, true),
                MAX_QUERY_VALUE,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        screen(&s.parse().unwrap()).is_ok()
    }

    #[test]
    fn refuses_traversal_nul_and_long() {
        assert!(ok("/v1.41/containers/abc/json?all=1"));
        assert!(!ok("/containers/../json"));
        assert!(!ok("/containers/%2e%2e/json"));
        assert!(!ok("/containers/a%00b/json"));
        assert!(!ok("/containers/json?filters=%2E%2E%2Fetc"));
        assert!(!ok(&format!("/containers/{}/json", "a".repeat(600))));
        assert!(ok("/images/localhost%2Fbusybox:latest/json"));
    }

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%2Fb+c", true), b"a/b c");
        assert_eq!(percent_decode("a%2", false), b"a%2");
        assert_eq!(percent_decode("%zz", false), b"%zz");
    }
}
