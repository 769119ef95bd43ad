//! The infra process of berth pods as bytes: a static, libc-free x86-64
//! executable (source: `src/pause.rs`, built by `build.rs`) that sleeps in
//! pause(2) and exits 0 on SIGTERM or SIGINT. berth-core copies it into
//! each infra container's root filesystem.

#![warn(missing_docs)]

/// The executable.
pub const PAUSE_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-pause"));

#[cfg(test)]
mod tests {
    #[test]
    fn is_a_small_static_elf() {
        let b = super::PAUSE_BINARY;
        assert_eq!(&b[..4], b"\x7fELF");
        assert!(b.len() < 64 * 1024, "{} bytes", b.len());
    }
}
