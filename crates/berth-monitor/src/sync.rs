//! The one [`SyncMessage`](berth_types::monitor::SyncMessage) line written to
//! the engine's sync fd.
//!
//! Serialized by hand: the message has three fields, and pulling serde_json's
//! formatter into every monitor would cost more pages than the whole relay.
//! The tests check the output against the serde definition in `berth-types`.

use std::os::unix::io::{AsFd, BorrowedFd};

/// Encode `{"pid":P,"monitor_pid":M[,"error":"..."]}` plus a newline.
pub fn encode(pid: i32, monitor_pid: i32, error: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + error.map_or(0, str::len));
    out.extend_from_slice(b"{\"pid\":");
    push_int(&mut out, pid as i64);
    out.extend_from_slice(b",\"monitor_pid\":");
    push_int(&mut out, monitor_pid as i64);
    if let Some(e) = error {
        out.extend_from_slice(b",\"error\":");
        push_json_string(&mut out, e);
    }
    out.extend_from_slice(b"}\n");
    out
}

/// Append a decimal integer (no `core::fmt`).
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Append `s` as a JSON string literal.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    crate::log::push_json_escaped(out, s.as_bytes());
    out.push(b'"');
}

/// Write the whole message, retrying on EINTR/short writes. A vanished
/// engine (EPIPE) is not our problem: the error is returned and ignored by
/// callers, since the monitor must keep running either way.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> rustix::io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd.as_fd(), buf) {
            Ok(0) => return Err(rustix::io::Errno::PIPE),
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        for v in [
            0i64,
            7,
            -1,
            42,
            1234567,
            i32::MIN as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut o = Vec::new();
            push_int(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), v.to_string());
        }
    }

    #[test]
    fn messages() {
        assert_eq!(encode(12, 34, None), b"{\"pid\":12,\"monitor_pid\":34}\n");
        let e = encode(0, 5, Some("a\"b\\c\nd\u{1}é"));
        assert_eq!(
            String::from_utf8(e).unwrap(),
            "{\"pid\":0,\"monitor_pid\":5,\"error\":\"a\\\"b\\\\c\\nd\\u0001é\"}\n"
        );
    }
}
