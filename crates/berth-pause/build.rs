//! Compile `src/pause.rs` into one static executable in OUT_DIR with the
//! same rustc cargo uses. Done here rather than as a `[[bin]]` because a
//! no_std binary needs `panic=abort`, which cargo cannot set for a single
//! package in the dev profile, and because the file must not depend on a C
//! library (infra root filesystems are empty).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/pause.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("berth-pause");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "berth_pause",
        ])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=s",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "relocation-model=static", "-C", "debuginfo=0"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib"])
        .args([
            "-C",
            "link-arg=-static",
            "-C",
            "link-arg=-Wl,--build-id=none",
        ])
        .arg("-o")
        .arg(&out)
        .arg("src/pause.rs")
        .status()
        .expect("running rustc for berth-pause");
    assert!(status.success(), "compiling src/pause.rs failed");
}
