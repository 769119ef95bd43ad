//! RELIABILITY.md scenarios 1, 9, 10, 11 (load, pull, commit), 27 and 28
//! (scaled down to keep CI short; the counts are constants below). Each
//! asserts the state after the fault: no improper state, commands work,
//! nothing leaked.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/registry.rs"]
mod registry_support;

/// Kill `berth ARGS` with SIGKILL after `delay`.
fn kill_after(env: &Env, args: &[&str], delay: Duration) {
    kill_command_after(env.command(args), delay);
}

/// Kill `cmd` with SIGKILL after `delay`.
fn kill_command_after(mut cmd: Command, delay: Duration) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

/// Layer directories of container layers the store holds.
fn storage_container_layers(env: &Env) -> usize {
    std::fs::read_dir(env.root.join("storage/containers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn scenario_1_killed_create_leaves_nothing_after_repair() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    for i in 0..12u64 {
        kill_after(
            &env,
            &["create", "--name", "x", IMAGE, "true"],
            Duration::from_micros(1500 + i * 700),
        );
        // The container is either fully there or fully absent.
        let ids = env.all_ids();
        assert!(ids.len() <= 1, "{ids:?}");
        if ids.len() == 1 {
            env.ok(&["rm", "x"]);
        }
        env.ok(&["system", "check", "--repair"]);
        assert_eq!(
            storage_container_layers(&env),
            0,
            "orphan layer after repair"
        );
        // The name is reusable at once.
        env.ok(&["create", "--name", "x", IMAGE, "true"]);
        env.ok(&["rm", "x"]);
    }
    env.ok(&["system", "check"]).contains("No problems found");
}

#[test]
fn scenario_9_write_storm_with_kills_keeps_the_database_whole() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let mut children = Vec::new();
    for i in 0..24 {
        let name = format!("s{i}");
        let args: Vec<String> = if i % 3 == 2 {
            vec!["rm".into(), "-f".into(), format!("s{}", i - 1)]
        } else {
            vec![
                "create".into(),
                "--name".into(),
                name,
                IMAGE.into(),
                "true".into(),
            ]
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        children.push(
            env.command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    // Kill every third writer at some point of its work.
    for (i, c) in children.iter_mut().enumerate() {
        if i % 3 == 0 {
            std::thread::sleep(Duration::from_millis(3));
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
        }
    }
    for mut c in children {
        let _ = c.wait();
    }
    let check = env.berth(&["system", "check", "--repair"]);
    assert!(!check.out().contains("integrity"), "{check}");
    // Every container listed is whole: inspect works and rm works.
    for id in env.all_ids() {
        assert!(env.inspect(&id)["Id"] == id.as_str());
        env.ok(&["rm", "-f", &id]);
    }
    env.ok(&["system", "check", "--repair"]);
    assert_eq!(storage_container_layers(&env), 0);
}

#[test]
fn scenario_10_corrupt_database_gives_one_clear_error() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "a", IMAGE, "true"]);
    let db = env.root.join("berth.db");
    // Checkpoint happened at exit; overwrite the header and the first pages.
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().take(4096) {
        *b = 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    for args in [
        &["ps", "-a"][..],
        &["start", "a"],
        &["rm", "a"],
        &["inspect", "a"],
    ] {
        let out = env.expect(args, 125);
        let err = out.err().trim();
        assert_eq!(err.lines().count(), 1, "{out}");
        assert!(err.contains(db.to_str().unwrap()), "{out}");
        assert!(err.contains("berth system check --repair"), "{out}");
        assert!(!err.contains("panicked"), "{out}");
    }
}

/// A docker-archive with a small layer and then a big one of `big_mb` MiB
/// (random, so it does not compress), so a kill lands mid-extraction, or
/// after the first layer was stored but before the image was registered.
fn big_archive(dir: &std::path::Path, big_mb: usize) -> std::path::PathBuf {
    let out = dir.join("big.tar");
    let script = format!(
        r#"
import io, json, hashlib, tarfile, os
def layer(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
small = layer([("small", b"x" * 100)])
big = layer([(f"blob/{{i}}", os.urandom(1 << 20)) for i in range({big_mb})])
diffs = ["sha256:" + hashlib.sha256(l).hexdigest() for l in (small, big)]
config = json.dumps({{"architecture": "amd64", "os": "linux", "config": {{"Cmd": ["true"]}},
    "rootfs": {{"type": "layers", "diff_ids": diffs}}}}).encode()
cid = hashlib.sha256(config).hexdigest()
with tarfile.open("{out}", "w") as t:
    for name, data in [("small.tar", small), ("big.tar", big), (cid + ".json", config),
        ("manifest.json", json.dumps([{{"Config": cid + ".json", "RepoTags": ["localhost/big:latest"], "Layers": ["small.tar", "big.tar"]}}]).encode())]:
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
"#,
        out = out.display(),
        big_mb = big_mb,
    );
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()
        .unwrap()
        .success();
    assert!(ok, "building the big archive");
    out
}

#[test]
fn scenario_11_killed_load_leaves_no_image_and_no_leak() {
    if skip() {
        return;
    }
    let env = Env::new();
    let archive = big_archive(env.path(), 40);
    let a = archive.to_str().unwrap();
    for delay_ms in [5u64, 20, 60, 120] {
        kill_after(&env, &["load", "-i", a], Duration::from_millis(delay_ms));
        all_or_nothing(&env, "localhost/big");
    }
    env.ok(&["load", "-i", a]);
    env.ok(&["rmi", "localhost/big"]);
    assert_eq!(stored_layers(&env), 0, "layers leaked");

    kill_once_a_layer_is_stored(&env, env.command(&["load", "-i", a]));
}

/// Kill `cmd` (a load or pull of a two-layer image into an empty store)
/// once its first layer is stored, while the big one is still coming: the
/// stored layer is not an image's yet, so nothing shows, `system check`
/// names it and `system prune` removes it.
fn kill_once_a_layer_is_stored(env: &Env, mut cmd: Command) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the first layer is stored", || stored_layers(env) >= 1);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    if env.ok(&["images", "-q"]).trim().is_empty() {
        env.expect(&["system", "check"], 1)
            .stdout_has("layer directory");
        env.ok(&["system", "prune", "-f"]);
        assert_eq!(stored_layers(env), 0, "system prune left the layer");
        env.ok(&["system", "check"]);
    }
}

/// After a killed command that makes image `name`: it is either not there
/// at all, or complete and usable (then removed); and the next command
/// cleared the dead command's temporary files.
#[track_caller]
fn all_or_nothing(env: &Env, name: &str) {
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    if images.contains(name) {
        env.ok(&["image", "inspect", name]);
        env.ok(&["rmi", name]);
    }
    let tmp: Vec<_> = std::fs::read_dir(env.root.join("storage/tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "leftover temporary files: {tmp:?}");
}

/// A pull killed at any point: no image or a whole one, no temporary files,
/// and a pull killed after storing one layer leaves only what `system
/// check` names and `system prune` removes.
#[test]
fn scenario_11_killed_pull_leaves_no_image_and_no_leak() {
    if skip() || registry_support::no_registry() {
        return;
    }
    let registry = registry_support::Registry::start(None);
    let env = Env::new();
    let remote = format!("{}/big:latest", registry.host());
    let auth = env.path().join("auth.json");
    let conf = env.path().join("registries.conf");
    std::fs::write(&conf, "").unwrap();
    let pull = || {
        let mut c = env.command(&["pull", "--tls-verify=false", &remote]);
        c.env("REGISTRY_AUTH_FILE", &auth)
            .env("CONTAINERS_REGISTRIES_CONF", &conf);
        c
    };
    // Smaller than the load test's: a debug build compresses it to push.
    let archive = big_archive(env.path(), 8);
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    let mut push = env.command(&["push", "--tls-verify=false", "localhost/big", &remote]);
    push.env("REGISTRY_AUTH_FILE", &auth)
        .env("CONTAINERS_REGISTRIES_CONF", &conf);
    run_command(push, None).success();
    env.ok(&["rmi", "localhost/big"]);
    assert_eq!(stored_layers(&env), 0);

    for delay_ms in [5u64, 20, 60, 150] {
        kill_command_after(pull(), Duration::from_millis(delay_ms));
        all_or_nothing(&env, &remote.replace(":latest", ""));
    }
    run_command(pull(), None).success();
    env.ok(&["rmi", &remote]);
    assert_eq!(stored_layers(&env), 0, "layers leaked");

    kill_once_a_layer_is_stored(&env, pull());
}

/// A commit killed at any point: no image or a whole one, no temporary
/// files, the container untouched, and no layer left once it is all gone.
#[test]
fn scenario_11_killed_commit_leaves_no_image_and_no_leak() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "changed",
        IMAGE,
        "sh",
        "-c",
        "dd if=/dev/urandom of=/big bs=1M count=40 2>/dev/null; touch /done; sleep 1000",
    ]);
    wait_until("the container wrote its changes", || {
        env.berth(&["exec", "changed", "test", "-f", "/done"]).code == 0
    });
    let base_layers = stored_layers(&env);
    for delay_ms in [5u64, 20, 60, 150] {
        kill_after(
            &env,
            &["commit", "changed", "localhost/snap"],
            Duration::from_millis(delay_ms),
        );
        all_or_nothing(&env, "localhost/snap");
        assert_eq!(env.status("changed"), "running");
    }
    env.ok(&["commit", "changed", "localhost/snap"]);
    env.ok(&["rmi", "localhost/snap"]);
    assert_eq!(stored_layers(&env), base_layers, "layers leaked");
    env.ok(&["system", "check"]);
}

/// Layer directories under the store's `layers/`.
fn stored_layers(env: &Env) -> usize {
    std::fs::read_dir(env.root.join("storage/layers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn scenario_27_create_remove_many_returns_to_baseline() {
    if skip() {
        return;
    }
    const COUNT: usize = 150;
    let env = Env::with_busybox();
    for _ in 0..COUNT {
        env.ok(&["create", IMAGE, "true"]);
    }
    assert_eq!(env.all_ids().len(), COUNT);
    env.ok(&["rm", "-a"]);
    assert!(env.all_ids().is_empty());
    assert!(
        env.container_dirs().is_empty(),
        "{:?}",
        env.container_dirs()
    );
    env.ok(&["system", "check"]);
}

#[test]
fn scenario_28_readers_and_writers_never_see_a_locked_database() {
    if skip() {
        return;
    }
    const SECONDS: u64 = 8;
    let env = std::sync::Arc::new(Env::with_busybox());
    env.ok(&["create", "--name", "seen", IMAGE, "true"]);
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut threads = Vec::new();
    for t in 0..10 {
        let env = env.clone();
        threads.push(std::thread::spawn(move || {
            let mut errors = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let out = if t < 7 {
                    env.berth(if t % 2 == 0 {
                        &["ps", "-a"]
                    } else {
                        &["inspect", "seen"]
                    })
                } else {
                    let name = format!("w{t}-{i}");
                    let o = env.berth(&["create", "--name", &name, IMAGE, "true"]);
                    if o.code == 0 {
                        env.berth(&["rm", &name])
                    } else {
                        o
                    }
                };
                if out.code != 0 || out.err().contains("locked") {
                    errors.push(out.to_string());
                }
                i += 1;
            }
            errors
        }));
    }
    let errors: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        errors.is_empty(),
        "{} failures, first: {}",
        errors.len(),
        errors[0]
    );
}

/// The soak of bench/soak.py, short: 4 clients mixing run --rm, exec,
/// stop, rm, kill -9 and SIGKILLed clients for 10 s; --strict fails on any
/// error, improper state or leak (issue 5's soak, CI length).
#[test]
fn short_soak_leaves_no_improper_state_and_no_leak() {
    if skip() {
        return;
    }
    ensure_monitor();
    let out = std::process::Command::new("python3")
        .arg(repo_root().join("bench/soak.py"))
        .args(["--seconds", "10", "--clients", "4", "--strict", "--berth"])
        .arg(berth_bin())
        .arg("--image-archive")
        .arg(busybox_archive())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
