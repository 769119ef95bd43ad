//! Image operations: tag/untag, save/load in every format, import, commit,
//! diff, export, history, prune, images filters (Podman's 010-images,
//! 120-load, 125-import, 140-diff, 150-commit).

mod common;

use common::*;

fn id_of(env: &Env, image: &str) -> String {
    env.ok(&["image", "inspect", "-f", "{{.Id}}", image])
}

#[test]
fn tag_untag_and_errors() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = id_of(&env, IMAGE);
    env.ok(&["image", "tag", IMAGE, "myimg", "quay.io/x/y:2"]);
    assert_eq!(id_of(&env, "localhost/myimg:latest"), id);
    assert_eq!(id_of(&env, "quay.io/x/y:2"), id);
    env.ok(&["image", "untag", IMAGE, "myimg"]);
    env.expect(&["image", "inspect", "localhost/myimg"], 125);
    let o = env.expect(&["image", "untag", IMAGE, "nosuch"], 125);
    o.stderr_has("localhost/nosuch:latest");
    assert_eq!(o.err().lines().count(), 1, "{o}");
    env.expect(&["image", "tag", "nosuchimage", "x"], 125)
        .stderr_has("nosuchimage");
    env.expect(&["rmi", "nosuchimage"], 1);
    // untag without names leaves a dangling image; prune removes it.
    env.ok(&["image", "untag", IMAGE]);
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "dangling=true"]),
        &id[..12]
    );
    assert_eq!(env.ok(&["image", "prune", "-f"]), id);
    assert_eq!(env.ok(&["images", "-q"]), "");
}

#[test]
fn save_and_load_every_format_keep_the_id() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = id_of(&env, IMAGE);
    env.ok(&["image", "tag", IMAGE, "second:1"]);
    for (format, name) in [
        ("docker-archive", "a.tar"),
        ("oci-archive", "b.tar"),
        ("oci-dir", "c.dir"),
    ] {
        let out = env.path().join(name);
        let out_s = out.to_str().unwrap();
        env.ok(&[
            "image", "save", "--format", format, "-o", out_s, IMAGE, "second:1",
        ]);
        env.ok(&["rmi", "-a", "-f"]);
        assert_eq!(env.ok(&["images", "-q"]), "");
        let o = env.expect(&["load", "-i", out_s], 0);
        o.stdout_has(IMAGE);
        assert_eq!(id_of(&env, IMAGE), id, "{format}");
        assert_eq!(id_of(&env, "localhost/second:1"), id, "{format}");
        // The loaded image runs.
        assert_eq!(env.ok(&["run", "--rm", IMAGE, "echo", "ok"]), "ok");
    }
    // Nothing but the archives is left beside them (no temp files).
    let mut names: Vec<String> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "root" && n != "run")
        .collect();
    names.sort();
    assert_eq!(names, ["a.tar", "b.tar", "c.dir"]);
    let o = env.expect(&["image", "save", "-o", "/nonexistent/x.tar", IMAGE], 125);
    assert_eq!(o.err().lines().count(), 1, "{o}");
    env.expect(&["image", "save", "-o", "/tmp/x.tar", "nosuch"], 125)
        .stderr_has("nosuch");
}

#[test]
fn commit_diff_export() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "c1",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /new && rm /etc/group && echo x >> /etc/passwd && ln -s /etc/shadow /tmp/evil",
    ]);
    let o = env.expect(&["image", "diff", "c1"], 0);
    let lines = o.lines();
    for want in [
        "A /new",
        "D /etc/group",
        "C /etc/passwd",
        "C /etc",
        "A /tmp/evil",
    ] {
        assert!(lines.contains(&want), "missing {want}\n{o}");
    }
    let json = env
        .expect(&["image", "diff", "--format", "json", "c1"], 0)
        .json();
    assert!(
        json["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "/etc/group"),
        "{json}"
    );

    let id = env.ok(&[
        "image",
        "commit",
        "-q",
        "--change",
        "CMD=cat /new",
        "--change",
        "ENV=FOO=bar",
        "-m",
        "my message",
        "-a",
        "me",
        "c1",
        "committed",
    ]);
    assert!(is_full_id(&id), "{id}");
    assert_eq!(env.ok(&["run", "--rm", "localhost/committed",]), "hi");
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "committed",
            "sh",
            "-c",
            "test -e /etc/group || echo gone; echo $FOO"
        ]),
        "gone\nbar"
    );
    let hist = env.expect(&["image", "history", "committed"], 0);
    assert!(hist.lines()[0].starts_with("ID"), "{hist}");
    assert!(hist.lines()[1].starts_with(&id[..12]), "{hist}");
    hist.stdout_has("my message");
    assert_eq!(
        env.ok(&["image", "inspect", "-f", "{{.Author}}", "committed"]),
        "me"
    );

    // Export: the container's files, symlinks as symlinks (never followed).
    let out = env.path().join("export.tar");
    env.ok(&["image", "export", "-o", out.to_str().unwrap(), "c1"]);
    let list = std::process::Command::new("tar")
        .args(["-tvf", out.to_str().unwrap()])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains(" new"), "{list}");
    assert!(list.contains("tmp/evil -> /etc/shadow"), "{list}");
    assert!(!list.contains("etc/group"), "{list}");
    assert!(env.mounts().is_empty(), "export left a mount");
}

#[test]
fn import_with_changes_and_filters() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let out = env.path().join("fs.tar");
    env.ok(&["create", "--name", "c1", IMAGE]);
    env.ok(&["image", "export", "-o", out.to_str().unwrap(), "c1"]);
    let o = env.expect(
        &[
            "image",
            "import",
            "--change",
            "CMD=[\"/bin/echo\",\"imported\"]",
            "--change",
            "LABEL=team=x",
            out.to_str().unwrap(),
            "imp:1",
        ],
        0,
    );
    let id = o.out().trim_start_matches("sha256:").to_string();
    assert_eq!(id_of(&env, "localhost/imp:1"), id);
    assert_eq!(env.ok(&["run", "--rm", "imp:1"]), "imported");
    // From stdin, without a name: dangling.
    let data = std::fs::read(&out).unwrap();
    let o = env.berth_stdin(&["image", "import", "-"], &data);
    o.success();
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "dangling=true"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "label=team=x"]),
        &id[..12]
    );
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "reference=imp"]),
        &id[..12]
    );
    assert_eq!(
        env.ok(&[
            "images",
            "--format",
            "{{.Repository}}",
            "--filter",
            "reference=busy*"
        ]),
        "localhost/busybox"
    );
    assert_eq!(
        env.ok(&[
            "images",
            "-q",
            "--filter",
            &format!("since={IMAGE}"),
            "--filter",
            "dangling=false"
        ]),
        &id[..12]
    );
    env.expect(&["images", "--filter", "bogus=1"], 125);
    // prune -a keeps the image c1 uses.
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}"]),
        "localhost/busybox"
    );
}

fn set_xattr(path: &std::path::Path, name: &str, value: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let rc = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "setxattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

fn get_xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    let len = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

/// Extended attributes (user.*, security.capability...) survive commit
/// and export, as in containers/storage's layer tars (PAX SCHILY.xattr).
#[test]
fn commit_and_export_keep_xattrs() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "x",
        IMAGE,
        "sh",
        "-c",
        "mkdir /d; echo hi > /d/f",
    ]);
    let mp = std::path::PathBuf::from(env.ok(&["mount", "x"]).trim());
    set_xattr(&mp.join("d/f"), "user.berth", b"file-value");
    set_xattr(&mp.join("d"), "user.berth", b"dir-value");
    env.ok(&["unmount", "x"]);

    let tar = env.command(&["export", "x"]).output().unwrap();
    assert!(tar.status.success());
    let needle = b"SCHILY.xattr.user.berth=file-value";
    assert!(tar.stdout.windows(needle.len()).any(|w| w == needle));

    env.ok(&["commit", "x", "localhost/withxattr"]);
    env.ok(&["create", "--name", "y", "localhost/withxattr", "true"]);
    let mp = std::path::PathBuf::from(env.ok(&["mount", "y"]).trim());
    assert_eq!(
        get_xattr(&mp.join("d/f"), "user.berth").as_deref(),
        Some(&b"file-value"[..])
    );
    assert_eq!(
        get_xattr(&mp.join("d"), "user.berth").as_deref(),
        Some(&b"dir-value"[..])
    );
    // Overlay's own bookkeeping is not content.
    assert_eq!(get_xattr(&mp.join("d"), "trusted.overlay.opaque"), None);
    env.ok(&["unmount", "y"]);
}
