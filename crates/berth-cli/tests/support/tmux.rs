//! A real terminal for tests: a detached tmux pane running a command; keys
//! go in with send-keys and the screen is read back with capture-pane.
//! Shared by `tty.rs` and `api_clients.rs` (`#[path]` module).

#![allow(dead_code)] // each test binary uses a different subset

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// One detached tmux server and session of a fixed size.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// `berth ARGS` in a new pane; `None` (skip) without tmux.
    pub fn start(env: &Env, args: &[&str]) -> Option<Tmux> {
        Tmux::start_line(&render(&env.command(args)))
    }

    /// A shell command line in a new pane; `None` (skip) without tmux.
    /// The pane shows `EXITED CODE` when it ends.
    pub fn start_line(line: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipping: tmux not installed");
            return None;
        }
        let socket = unique("berth-tty");
        let ok = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "100", "-y", "30"])
            .arg(format!("{line}; echo EXITED $?; sleep 60"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Some(Tmux { socket })
    }

    pub fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows `what`.
    pub fn expect(&self, what: &str) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(Instant::now() < end, "screen never showed {what:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn resize(&self, cols: u32, rows: u32) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", "0"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
