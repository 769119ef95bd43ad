//! `volume`, `-v NAME:/path`, `--mount`, `cp`, `mount`/`unmount` through the CLI.

mod common;

use common::*;

#[test]
fn named_volume_outlives_containers_and_is_protected_while_used() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    assert_eq!(env.ok(&["volume", "create", "data"]).trim(), "data");
    env.expect(&["volume", "create", "data"], 125);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    let out = env.ok(&["run", "--rm", "-v", "data:/data", IMAGE, "cat", "/data/f"]);
    assert_eq!(out.trim(), "persisted");
    let user = env.ok(&[
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        IMAGE,
        "true",
    ]);
    env.expect(&["volume", "rm", "data"], 125)
        .stderr_has(user.trim())
        .stderr_has("being used");
    env.ok(&["volume", "exists", "data"]);
    let ls = env.ok(&["volume", "ls", "--format", "json"]);
    assert!(ls.contains("\"Name\": \"data\""), "{ls}");
    env.ok(&["volume", "rm", "-f", "data"]);
    env.expect(&["volume", "exists", "data"], 1);
    env.expect(&["container", "exists", "user"], 1);
    env.expect(&["volume", "rm", "data"], 1);
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_mount_flag_works() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "anon", "-v", "/scratch", IMAGE, "true"]);
    let vols = env.ok(&["volume", "ls", "-q"]);
    assert_eq!(vols.lines().count(), 1, "{vols}");
    env.ok(&["rm", "-v", "anon"]);
    assert!(env.ok(&["volume", "ls", "-q"]).trim().is_empty());
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t",
        IMAGE,
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(out.contains("tmpfs"), "{out}");
}

#[test]
fn cp_in_and_out_stays_inside_the_container() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "c",
        IMAGE,
        "sh",
        "-c",
        "ln -s /tmp /test; ln -s /etc/hostname /tmp/badlink",
    ]);
    let host = env.path().join("in.txt");
    std::fs::write(&host, "hello\n").unwrap();
    // RELIABILITY 40: the symlink is resolved inside the container.
    env.ok(&["cp", host.to_str().unwrap(), "c:/test/in.txt"]);
    let out_dir = env.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    env.ok(&[
        "cp",
        "c:/tmp/in.txt",
        out_dir.join("copy.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("copy.txt")).unwrap(),
        "hello\n"
    );
    // RELIABILITY 41: a link to a host path is not followed out of the root.
    env.berth(&[
        "cp",
        "c:/tmp/badlink/x",
        out_dir.join("bad").to_str().unwrap(),
    ]);
    assert!(!out_dir.join("bad").exists());
    // Tar streams out.
    let tar = env.command(&["cp", "c:/etc/passwd", "-"]).output().unwrap();
    assert!(tar.status.success());
    assert!(tar.stdout.windows(6).any(|w| w == b"passwd"));
    // mount / unmount print the mount point and the name.
    let mp = env.ok(&["mount", "c"]);
    assert!(
        std::path::Path::new(mp.trim()).join("tmp/in.txt").exists(),
        "{mp}"
    );
    env.ok(&["unmount", "c"]);
    env.ok(&["rm", "c"]);
    assert!(env.mounts().is_empty(), "{:?}", env.mounts());
}
