//! Terminals driven as a person would: a real tmux pane runs `berth run
//! -it` / `exec -it` / `attach`; keys go in with send-keys and the screen is
//! read back with capture-pane.

mod common;

use common::*;

use std::time::Duration;

#[path = "support/tmux.rs"]
mod tmux;
use tmux::Tmux;

#[test]
fn run_it_is_a_real_terminal_with_resize_and_detach() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let Some(t) = Tmux::start(&env, &["run", "-it", "--name", "tty1", IMAGE, "sh"]) else {
        return;
    };
    t.expect("/ #");
    // A tty inside, and the size of our pane.
    t.keys(&["tty; stty size", "Enter"]);
    t.expect("/dev/pts/");
    t.expect("30 100");
    // Window-size changes are passed on.
    t.resize(80, 24);
    // The size travels tmux → SIGWINCH → berth → monitor; a person does
    // not type within the same millisecond either.
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["clear; stty size", "Enter"]);
    t.expect("24 80");
    // Ctrl-C reaches the shell through the terminal, not as our signal.
    t.keys(&["sleep 100", "Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.keys(&["echo still-$((40+2))", "Enter"]);
    t.expect("still-42");
    // Default detach keys: berth exits 0, the container runs on.
    t.keys(&["C-p", "C-q"]);
    t.expect("EXITED 0");
    assert_eq!(env.status("tty1"), "running");

    // Attach again (a second pane), type, exit: attach returns the code.
    let a = Tmux::start(&env, &["container", "attach", "tty1"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    a.keys(&["echo back-$((1+1))", "Enter"]);
    a.expect("back-2");
    a.keys(&["exit 3", "Enter"]);
    a.expect("EXITED 3");
    env.wait_status("tty1", "exited");
}

#[test]
fn exec_it_and_two_attached_clients() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-dit", "--name", "tty2", IMAGE, "sh"]);
    let e = Tmux::start(&env, &["exec", "-it", "tty2", "sh"]).unwrap();
    e.expect("/ #");
    e.keys(&["tty; echo exec-$((2*3))", "Enter"]);
    e.expect("/dev/pts/");
    e.expect("exec-6");
    e.keys(&["exit 5", "Enter"]);
    e.expect("EXITED 5");

    // Two clients on one container see the same screen.
    let a = Tmux::start(&env, &["container", "attach", "tty2"]).unwrap();
    let b = Tmux::start(
        &env,
        &["container", "attach", "--detach-keys", "ctrl-x", "tty2"],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    a.keys(&["echo both-$((3*3))", "Enter"]);
    a.expect("both-9");
    b.expect("both-9");
    b.keys(&["C-x"]);
    b.expect("EXITED 0");
    a.keys(&["C-p", "C-q"]);
    a.expect("EXITED 0");
    assert_eq!(env.status("tty2"), "running");
}

#[test]
fn interactive_without_tty_closes_stdin_when_the_client_goes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // cat ends when its stdin closes; the pipe's end is the client's end.
    let out = env.berth_stdin(&["run", "-i", "--rm", IMAGE, "cat"], b"piped\n");
    out.success();
    assert_eq!(out.out().trim_end(), "piped");
}

/// The terminal has the client's size from its start (Podman's
/// ConsoleSize), not only after the first resize: the very first
/// `stty size` in the container sees the 30x100 pane.
#[test]
fn run_it_starts_at_the_clients_terminal_size() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let Some(t) = Tmux::start(&env, &["run", "-it", "--rm", IMAGE, "stty", "size"]) else {
        return;
    };
    t.expect("EXITED 0");
    assert!(t.screen().contains("30 100"), "{}", t.screen());
}
