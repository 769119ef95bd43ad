//! A container's working directory is made by berth inside the container's
//! root before the runtime starts, following symlinks inside that root
//! only (RELIABILITY.md 45, CVE-2026-55686): an image whose `WORKDIR` is or
//! passes through a symlink to a host path never creates anything on the
//! host, and the container starts in the directory its own tree resolves to.

mod common;

use common::*;
use std::path::Path;

/// `pwd` and whether the directory is there, as the container sees it.
const SHOW_CWD: &str = "pwd; test -d \"$(pwd)\" && echo is-dir";

#[test]
fn workdir_through_symlinks_to_host_paths_stays_in_the_root() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // Host paths that exist nowhere yet; the image's symlinks point at them,
    // one absolutely, one by enough `..` to climb out of any rootfs.
    let abs = format!("/tmp/{}", unique("berth-wd-abs"));
    let rel = format!("/tmp/{}", unique("berth-wd-rel"));
    let deep = format!("/tmp/{}", unique("berth-wd-deep"));
    env.ok(&[
        "run",
        "--name",
        "mk",
        IMAGE,
        "sh",
        "-c",
        &format!("ln -s {abs} /w && ln -s ../../../../../..{rel} /r && ln -s /r/chain /c"),
    ]);
    let cases = [
        (
            "wd-abs",
            "/w/sub".to_string(),
            format!("{abs}/sub"),
            abs.clone(),
        ),
        (
            "wd-rel",
            "/r/sub".to_string(),
            format!("{rel}/sub"),
            rel.clone(),
        ),
        // A chain: /c -> /r/chain, /r -> ../../..{rel}.
        (
            "wd-chain",
            "/c/x/../y".to_string(),
            format!("{rel}/chain/y"),
            rel.clone(),
        ),
        // The image names the host path itself, through `..` above the root.
        (
            "wd-dotdot",
            format!("/../../..{deep}/sub"),
            format!("{deep}/sub"),
            deep.clone(),
        ),
    ];
    for (image, workdir, inside, host) in &cases {
        env.ok(&[
            "commit",
            "--change",
            &format!("WORKDIR={workdir}"),
            "mk",
            image,
        ]);
        let out = env.ok(&["run", "--name", image, image, "sh", "-c", SHOW_CWD]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [inside.as_str(), "is-dir"],
            "{image}: WORKDIR {workdir}"
        );
        assert!(
            !Path::new(host).exists(),
            "{image}: WORKDIR {workdir} created {host} on the host"
        );
        // The directory is part of the container's own filesystem.
        let diff = env.ok(&["diff", image]);
        assert!(
            diff.lines().any(|l| l == format!("A {inside}")),
            "{image}: {inside} not in the container's changes:\n{diff}"
        );
    }
    // `-w` is resolved the same way as the image's WORKDIR.
    let out = env.ok(&[
        "run", "--rm", "-w", "/w/flag", "wd-abs", "sh", "-c", SHOW_CWD,
    ]);
    assert_eq!(out, format!("{abs}/flag\nis-dir"));
    assert!(!Path::new(&abs).exists());
}

#[test]
fn missing_workdir_is_created_for_the_containers_user() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "base", IMAGE]);
    env.ok(&["commit", "--change", "WORKDIR=/made/deep", "base", "plain"]);
    let out = env.ok(&["run", "--rm", "plain", "sh", "-c", SHOW_CWD]);
    assert_eq!(out, "/made/deep\nis-dir");
    // Made for the container's user, who can write there (Podman's rule).
    let out = env.ok(&[
        "run",
        "--rm",
        "--user",
        "1234:4321",
        "-w",
        "/owned",
        IMAGE,
        "sh",
        "-c",
        "stat -c %u:%g . && touch f && echo wrote",
    ]);
    assert_eq!(out, "1234:4321\nwrote");
    // New parents too (Podman's MkdirAllAndChownNew).
    let out = env.ok(&[
        "run",
        "--rm",
        "--user",
        "1234:4321",
        "-w",
        "/new/deeper",
        IMAGE,
        "stat",
        "-c",
        "%u:%g",
        "/new",
    ]);
    assert_eq!(out, "1234:4321");
    // An existing directory keeps its owner.
    let out = env.ok(&[
        "run", "--rm", "--user", "1234", "-w", "/tmp", IMAGE, "stat", "-c", "%u", ".",
    ]);
    assert_eq!(out, "0");
    // On a volume the runtime makes it, inside the volume.
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        "wdvol:/data",
        "-w",
        "/data/sub",
        IMAGE,
        "sh",
        "-c",
        SHOW_CWD,
    ]);
    assert_eq!(out, "/data/sub\nis-dir");
    let out = env.ok(&["run", "--rm", "-v", "wdvol:/data", IMAGE, "ls", "/data"]);
    assert_eq!(out, "sub");
    // A working directory that is a file cannot be used: a clean error.
    let o = env.expect(
        &[
            "run",
            "--name",
            "wd-file",
            "-w",
            "/bin/busybox",
            IMAGE,
            "true",
        ],
        125,
    );
    assert_eq!(o.err().trim().lines().count(), 1, "{o}");
    o.stderr_has("wd-file").stderr_has("not a directory");
}
