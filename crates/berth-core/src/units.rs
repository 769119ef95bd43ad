//! Sizes as users type them (`512m`, `1g`, `100k`), with Docker's
//! binary-unit semantics (`RAMInBytes`), and durations and times the same way.

use berth_types::{Error, Result};

/// Parse a memory size: a number with an optional b/k/m/g/t suffix
/// (powers of 1024), e.g. `512m`.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|r| !r.is_empty() && r.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| Error::invalid(format!("invalid size: {s:?}")))?;
    if value.is_nan() || value < 0.0 {
        return Err(Error::invalid(format!("invalid size: {s:?}")));
    }
    Ok((value * mult as f64) as i64)
}

/// Parse a Go duration (`30s`, `1m30s`, `500ms`, `1h`, `1.5s`) into
/// nanoseconds, as Podman's `--health-interval` and friends take them.
pub fn parse_go_duration(s: &str) -> Result<u64> {
    let bad = || {
        Error::invalid(format!(
            "invalid duration {s:?}: use e.g. 30s, 1m30s or 500ms"
        ))
    };
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let mut rest = t;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ns = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * ns;
        rest = &rest[unit_len..];
    }
    if t.is_empty() {
        return Err(bad());
    }
    Ok(total as u64)
}

/// `--since`/`--until`: an RFC 3339 time, or a Go duration meaning "ago".
pub fn parse_time(s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return jiff::Timestamp::from_second(secs)
            .map_err(|e| Error::invalid(format!("invalid time {s:?}: {e}")));
    }
    let d: jiff::SignedDuration = s.parse().map_err(|_| {
        Error::invalid(format!(
            "invalid time {s:?}: expected RFC 3339 or a duration like 10m"
        ))
    })?;
    jiff::Timestamp::now()
        .checked_sub(d)
        .map_err(|e| Error::invalid(format!("invalid time {s:?}: {e}")))
}

/// go-units `HumanDuration` (what Podman's and Docker's `ps` print):
/// "Less than a second", "3 seconds", "About a minute", "5 hours", "2
/// weeks"... Hours are rounded, as Go does.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = (secs as f64 / 3600.0).round() as i64;
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(parse_bytes("64k").unwrap(), 65536);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-1m").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_go_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        for bad in ["", "10", "1x", "s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_like_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3600 * 3), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }
}
