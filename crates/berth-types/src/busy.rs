//! How berth waits for a busy SQLite database (both of its databases).
//!
//! SQLite's default busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25... ms
//! between retries. berth's contention is always short — another berth
//! process committing, or checkpointing as it exits — so those sleeps turn
//! a sub-millisecond wait into tens of milliseconds. This handler starts at
//! 50 µs, doubles up to 2 ms, and gives up after about 100 s in total.

/// Retries before giving up: 100 s at the 2 ms ceiling.
const MAX_RETRIES: i32 = 50_000;

/// A `sqlite3_busy_handler` callback: sleep a little and return true to
/// retry, false to give up (the statement then fails with SQLITE_BUSY).
pub fn short_waits(retries: i32) -> bool {
    if retries >= MAX_RETRIES {
        return false;
    }
    let micros = 50u64 << retries.clamp(0, 6) as u32;
    std::thread::sleep(std::time::Duration::from_micros(micros.min(2_000)));
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_are_short_and_bounded() {
        assert!(super::short_waits(0));
        assert!(!super::short_waits(super::MAX_RETRIES));
    }
}
