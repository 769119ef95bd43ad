//! OCI hooks from hooks.d files (Podman's format, version 1.0.0): run at
//! each stage with the OCI state on stdin, matched by `when`, and a failing
//! prestart hook fails the start cleanly. The hook directory is given with
//! `BERTH_HOOKS_DIR` (what `--hooks-dir` sets).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A hooks dir, an output dir, and scripts inside the env's directory.
struct Hooks {
    dir: PathBuf,
    out: PathBuf,
    save: PathBuf,
    fail: PathBuf,
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Hooks {
    fn new(env: &Env) -> Hooks {
        let dir = env.path().join("hooks.d");
        let out = env.path().join("hook-out");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let save = env.path().join("save.sh");
        script(&save, &format!("cat > {}/\"$1\"", out.display()));
        let fail = env.path().join("fail.sh");
        script(&fail, "echo hook-refused >&2; exit 3");
        Hooks {
            dir,
            out,
            save,
            fail,
        }
    }

    fn add(&self, file: &str, path: &Path, args: &[&str], when: &str, stages: &[&str]) {
        let v = serde_json::json!({
            "version": "1.0.0",
            "hook": {"path": path, "args": args},
            "when": serde_json::from_str::<Value>(when).unwrap(),
            "stages": stages,
        });
        std::fs::write(self.dir.join(file), v.to_string()).unwrap();
    }

    fn berth(&self, env: &Env, args: &[&str]) -> Out {
        let mut c = env.command(args);
        c.env("BERTH_HOOKS_DIR", &self.dir);
        run_command(c, None)
    }

    /// The OCI state a hook saved under `name`, if it ran.
    fn state(&self, name: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.out.join(name)).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}")))
    }
}

/// Only containers named `NAME...` match.
fn named(prefix: &str) -> String {
    format!(r#"{{"annotations": {{"^io\\.berth\\.container\\.name$": "^{prefix}"}}}}"#)
}

#[test]
fn every_stage_runs_with_the_state_on_stdin() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let h = Hooks::new(&env);
    let when = named("hk");
    for stage in ["prestart", "createRuntime", "poststart", "poststop"] {
        let save = h.save.clone();
        h.add(
            &format!("{stage}.json"),
            &save,
            &["save.sh", stage],
            &when,
            &[stage],
        );
    }
    // createContainer runs before pivot_root (host paths resolve);
    // startContainer runs inside the container, so it uses the image's sh
    // and writes into a bind mount.
    let save = h.save.clone();
    h.add(
        "cc.json",
        &save,
        &["save.sh", "createContainer"],
        &when,
        &["createContainer"],
    );
    h.add(
        "sc.json",
        Path::new("/bin/sh"),
        &["sh", "-c", "cat > /hookout/startContainer"],
        &when,
        &["startContainer"],
    );
    let vol = format!("{}:/hookout", h.out.display());
    let o = h.berth(&env, &["run", "--name", "hk1", "-v", &vol, IMAGE, "true"]);
    o.success();
    let id = env.inspect("hk1")["Id"].as_str().unwrap().to_string();
    // The status each stage sees is runc's choice (1.1.5: "creating" up to
    // createContainer, "created" at startContainer and poststart); only
    // poststop's is fixed.
    for stage in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let st = h
            .state(stage)
            .unwrap_or_else(|| panic!("{stage} hook did not run"));
        assert_eq!(st["id"], id.as_str(), "{stage}: {st}");
        assert_eq!(st["annotations"]["io.berth.container.name"], "hk1");
        let status = st["status"].as_str().unwrap_or_default();
        assert!(
            ["creating", "created", "running", "stopped"].contains(&status),
            "{stage}: {st}"
        );
    }
    assert_eq!(h.state("poststop").unwrap()["status"], "stopped");
    env.ok(&["rm", "hk1"]);
}

#[test]
fn when_conditions_select_containers() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let h = Hooks::new(&env);
    let save = h.save.clone();
    h.add(
        "a.json",
        &save,
        &["save.sh", "by-name"],
        &named("picked"),
        &["prestart"],
    );
    h.add(
        "b.json",
        &save,
        &["save.sh", "by-command"],
        r#"{"commands": ["^sleep$"]}"#,
        &["prestart"],
    );
    h.add(
        "c.json",
        &save,
        &["save.sh", "by-bind"],
        r#"{"hasBindMounts": true}"#,
        &["prestart"],
    );
    h.berth(&env, &["run", "--name", "other", IMAGE, "true"])
        .success();
    assert!(h.state("by-name").is_none());
    assert!(h.state("by-command").is_none());
    h.berth(&env, &["run", "--name", "picked1", IMAGE, "true"])
        .success();
    assert_eq!(
        h.state("by-name").unwrap()["annotations"]["io.berth.container.name"],
        "picked1"
    );
    assert!(h.state("by-command").is_none());
    h.berth(&env, &["run", "-d", "--name", "sl", IMAGE, "sleep", "1000"])
        .success();
    assert!(h.state("by-command").is_some());
    assert!(h.state("by-bind").is_none());
    let vol = format!("{}:/mnt", env.path().display());
    h.berth(&env, &["run", "--name", "bnd", "-v", &vol, IMAGE, "true"])
        .success();
    assert!(h.state("by-bind").is_some());
    env.ok(&["rm", "-a", "-f", "-t", "0"]);
}

#[test]
fn failing_prestart_hook_fails_start_cleanly() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let h = Hooks::new(&env);
    let fail = h.fail.clone();
    h.add(
        "fail.json",
        &fail,
        &["fail.sh"],
        &named("bad"),
        &["prestart"],
    );
    for (name, detach) in [("bad-d", true), ("bad-fg", false)] {
        let mut args = vec!["run", "--name", name];
        if detach {
            args.push("-d");
        }
        args.extend([IMAGE, "sleep", "1000"]);
        let o = h.berth(&env, &args);
        assert_ne!(o.code, 0, "{o}");
        o.stderr_has("hook-refused");
        let rec = env.inspect(name);
        assert_eq!(rec["State"]["Status"], "created", "{rec}");
        assert_eq!(rec["State"]["Pid"], 0);
        assert!(
            rec["State"]["Error"].as_str().unwrap().contains("hook"),
            "error recorded: {rec}"
        );
        // Nothing half-started remains: no monitor, mount or runtime state.
        wait_until("monitors to exit", || env.monitors().is_empty());
        assert_eq!(env.mounts(), Vec::<PathBuf>::new());
        let runtime: Vec<PathBuf> = env
            .container_dirs()
            .into_iter()
            .filter(|p| p.starts_with(env.run.join("runtime")))
            .collect();
        assert_eq!(runtime, Vec::<PathBuf>::new());
        // A second start fails the same way, and without the hook it runs.
        h.berth(&env, &["start", name]).stderr_has("hook-refused");
    }
    std::fs::remove_file(h.dir.join("fail.json")).unwrap();
    h.berth(&env, &["start", "bad-d"]).success();
    assert_eq!(env.status("bad-d"), "running");
    assert_eq!(env.inspect("bad-d")["State"]["Error"], "");
    env.ok(&["rm", "-a", "-f", "-t", "0"]);
    assert_eq!(env.container_dirs(), Vec::<PathBuf>::new());
    assert_eq!(env.mounts(), Vec::<PathBuf>::new());
}

#[test]
fn broken_hook_file_is_named() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let h = Hooks::new(&env);
    std::fs::write(h.dir.join("broken.json"), "{ not json").unwrap();
    let o = h.berth(&env, &["run", "--name", "x", IMAGE, "true"]);
    o.code(125);
    o.stderr_has("broken.json");
    assert_eq!(o.err().lines().count(), 1, "{o}");
    std::fs::remove_file(h.dir.join("broken.json")).unwrap();
    h.berth(&env, &["start", "x"]).success();
    env.ok(&["rm", "-f", "-t", "0", "x"]);
}
