//! Pull progress as Podman shows it: bars on a terminal (drawn with
//! cursor controls and cleared when a blob is done), plain lines when
//! stderr is not a terminal, nothing with `-q`. The terminal is a real pty
//! from util-linux `script`.

mod common;

use common::*;
use std::process::Command;

#[path = "support/registry.rs"]
mod registry_support;
use registry_support::*;

#[test]
fn pull_draws_bars_on_a_terminal_lines_otherwise_and_nothing_when_quiet() {
    if skip() || no_registry() {
        return;
    }
    let reg = Registry::start(None);
    let env = Env::with_busybox();
    let conf = env.path().join("registries.conf");
    std::fs::write(&conf, "").unwrap();
    let auth = env.path().join("auth.json");
    let remote = format!("{}/busybox:progress", reg.host());
    let with_env = |mut c: Command| {
        c.env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env("REGISTRY_AUTH_FILE", &auth);
        c
    };
    let berth_cmd = |args: &[&str]| with_env(env.command(args));
    run_command(
        berth_cmd(&["push", "--tls-verify=false", IMAGE, &remote]),
        None,
    )
    .success();

    // On a terminal: the same messages, and the bars' cursor controls.
    env.ok(&["rmi", "-a", "-f"]);
    let line = render(&berth_cmd(&["pull", "--tls-verify=false", &remote]));
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("BERTH_ROOT")
        .env_remove("BERTH_RUNROOT")
        .env_remove("BERTH_RUNTIME")
        .env_remove("BERTH_MONITOR");
    let o = run_command(with_env(script), None);
    o.success();
    assert!(o.out().contains("Copying blob"), "{o}");
    assert!(o.out().contains("\x1b["), "no terminal drawing: {o}");
    env.ok(&["image", "exists", &remote]);

    // Not a terminal: one plain line per step, no control characters.
    env.ok(&["rmi", "-a", "-f"]);
    let o = run_command(berth_cmd(&["pull", "--tls-verify=false", &remote]), None);
    o.success();
    o.stderr_has("Getting image source signatures");
    o.stderr_has("Writing manifest to image destination");
    assert!(!o.err().contains('\x1b'), "{o}");

    // Quiet: the ID only.
    env.ok(&["rmi", "-a", "-f"]);
    let o = run_command(
        berth_cmd(&["pull", "-q", "--tls-verify=false", &remote]),
        None,
    );
    o.success();
    assert_eq!(o.err(), "", "{o}");
    assert!(is_full_id(o.out().trim()), "{o}");
}
