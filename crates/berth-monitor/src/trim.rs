//! Give back the monitor's startup-only code pages.
//!
//! The kernel maps file pages in 64 KiB "fault-around" windows, so running
//! the startup code (argument parsing, fork, `runc create`) leaves most of
//! the executable mapped, including std's never-executed backtrace
//! symbolizer (gimli/addr2line, over half of `.text`), which std links in
//! even with `panic = "abort"`. While only one monitor runs, those clean
//! pages count as its private memory. Dropping our page-table entries for
//! the clean, read-only parts of our own executable after startup leaves
//! just what the relay loop touches again. The pages stay in the page
//! cache; nothing is written or lost.

use std::os::unix::ffi::OsStrExt;

/// `madvise(MADV_DONTNEED)` the executable's text and the read-only data
/// mapped before it. Best effort; never touches writable mappings or the
/// RELRO segment (relocated by the loader, so it is dirty and must stay:
/// re-reading it from the file would undo the relocations).
pub fn trim_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read("/proc/self/maps") else {
        return;
    };
    let exe = exe.as_os_str().as_bytes();

    let mut ours: Vec<(usize, usize, &[u8], u64)> = Vec::new();
    for line in maps.split(|&b| b == b'\n') {
        // start-end perms offset dev inode path
        let mut f = line.splitn(6, |&b| b == b' ');
        let (Some(range), Some(perms), Some(off), _, _, Some(path)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if path.trim_ascii_start() != exe {
            continue;
        }
        let Some((s, e)) = range
            .iter()
            .position(|&b| b == b'-')
            .map(|i| (&range[..i], &range[i + 1..]))
        else {
            continue;
        };
        if let (Some(s), Some(e), Some(o)) = (hex(s), hex(e), hex(off)) {
            ours.push((s as usize, e as usize, perms, o));
        }
    }
    let Some(text_off) = ours.iter().find(|m| m.2.starts_with(b"r-x")).map(|m| m.3) else {
        return;
    };
    for &(start, end, perms, off) in &ours {
        let text = perms.starts_with(b"r-x");
        let rodata_before_text = perms.starts_with(b"r--") && off < text_off;
        if text || rodata_before_text {
            // SAFETY: a private, read-only, never-written file mapping of
            // our own executable: dropping its PTEs only makes the next
            // access fault the same bytes back in from the page cache.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
    }
}

fn hex(s: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    for &b in s {
        let d = (b as char).to_digit(16)?;
        v = v << 4 | d as u64;
    }
    Some(v)
}
