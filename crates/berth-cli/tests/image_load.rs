//! `load` as a drop-in for Podman's: reading stdin when no `-i` is given
//! (`podman load < x.tar`, `... | podman load`), gzip-compressed archives
//! (`save | gzip`), archives holding several different images, and
//! `import --change ENV=...` (Podman's 120-load, 125-import).

mod common;

use common::*;
use std::process::Stdio;

fn id_of(env: &Env, image: &str) -> String {
    env.ok(&["image", "inspect", "-f", "{{.Id}}", image])
}

/// `berth load` with its stdin redirected from the file at `path`.
fn load_redirected(env: &Env, path: &std::path::Path) -> std::process::Output {
    let mut cmd = env.command(&["load"]);
    cmd.stdin(Stdio::from(std::fs::File::open(path).unwrap()));
    cmd.output().unwrap()
}

fn gzip(path: &std::path::Path) -> std::path::PathBuf {
    let out = path.with_extension("tar.gz");
    let st = std::process::Command::new("gzip")
        .arg("-1")
        .arg("-c")
        .arg(path)
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    out
}

/// Export busybox's filesystem and import it as `name` with `changes`;
/// returns the new image's ID.
fn import_copy(env: &Env, name: &str, changes: &[&str]) -> String {
    let fs = env.path().join("fs.tar");
    if !fs.exists() {
        env.ok(&["create", "--name", "export-src", IMAGE]);
        env.ok(&["export", "-o", fs.to_str().unwrap(), "export-src"]);
        env.ok(&["rm", "export-src"]);
    }
    let mut args = vec!["import"];
    for c in changes {
        args.extend(["--change", c]);
    }
    args.extend([fs.to_str().unwrap(), name]);
    env.ok(&args).trim_start_matches("sha256:").to_string()
}

/// `save --format FORMAT -o DIR/FORMAT-N.tar IMAGES...`; the archive's path.
fn save(env: &Env, format: &str, images: &[&str]) -> std::path::PathBuf {
    let ar = env.path().join(format!("{format}-{}.tar", images.len()));
    let mut args = vec!["save", "--format", format, "-o", ar.to_str().unwrap()];
    args.extend(images);
    env.ok(&args);
    ar
}

#[test]
fn load_reads_stdin_redirected_or_piped_in_both_formats() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = id_of(&env, IMAGE);
    for format in ["docker-archive", "oci-archive"] {
        let ar = save(&env, format, &[IMAGE]);

        env.ok(&["rmi", "-a", "-f"]);
        let o = load_redirected(&env, &ar);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{format}: {stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(stdout, format!("Loaded image: {IMAGE}\n"), "{format}");
        assert_eq!(id_of(&env, IMAGE), id, "{format}");

        env.ok(&["rmi", "-a", "-f"]);
        let data = std::fs::read(&ar).unwrap();
        let o = env.berth_stdin(&["load", "-q"], &data);
        o.success();
        assert_eq!(o.out(), IMAGE, "{format}");
        assert_eq!(env.ok(&["run", "--rm", IMAGE, "echo", "ok"]), "ok");
    }
    // Junk on stdin: one clear error, nothing loaded, nothing left in tmp/.
    env.ok(&["rmi", "-a", "-f"]);
    let o = env.berth_stdin(&["load"], b"not an archive at all");
    o.code(125);
    assert_eq!(o.err().lines().count(), 1, "{o}");
    o.stderr_has("stdin");
    assert_eq!(env.ok(&["images", "-q"]), "");
    let tmp = env.path().join("root/storage/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn load_accepts_gzipped_archives_in_both_formats() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = id_of(&env, IMAGE);
    for format in ["docker-archive", "oci-archive"] {
        let ar = save(&env, format, &[IMAGE]);
        let gz = gzip(&ar);

        env.ok(&["rmi", "-a", "-f"]);
        let o = env.expect(&["load", "-i", gz.to_str().unwrap()], 0);
        o.stdout_has(IMAGE);
        assert_eq!(id_of(&env, IMAGE), id, "{format}");
        assert_eq!(env.ok(&["run", "--rm", IMAGE, "echo", "ok"]), "ok");

        // `save | gzip | load` and `load < x.tar.gz`.
        env.ok(&["rmi", "-a", "-f"]);
        let data = std::fs::read(&gz).unwrap();
        env.berth_stdin(&["load"], &data).success();
        assert_eq!(id_of(&env, IMAGE), id, "{format}");
        env.ok(&["rmi", "-a", "-f"]);
        assert!(load_redirected(&env, &gz).status.success(), "{format}");
        assert_eq!(id_of(&env, IMAGE), id, "{format}");
    }
    // A truncated gzip archive is refused cleanly and loads nothing.
    env.ok(&["rmi", "-a", "-f"]);
    let gz = env.path().join("docker-archive-1.tar.gz");
    let data = std::fs::read(&gz).unwrap();
    let cut = env.path().join("cut.tar.gz");
    std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let o = env.expect(&["load", "-i", cut.to_str().unwrap()], 125);
    o.stderr_has("cut.tar.gz");
    assert_eq!(env.ok(&["images", "-q"]), "");
}

#[test]
fn save_and_load_two_different_images_in_one_archive() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let bb = id_of(&env, IMAGE);
    let other = import_copy(&env, "other:2", &["CMD=[\"/bin/echo\",\"other\"]"]);
    assert_ne!(bb, other);
    for format in ["docker-archive", "oci-archive"] {
        let ar = save(&env, format, &[IMAGE, "other:2"]);
        env.ok(&["rmi", "-a", "-f"]);
        let o = env.expect(&["load", "-i", ar.to_str().unwrap()], 0);
        o.stdout_has(IMAGE).stdout_has("localhost/other:2");
        assert_eq!(id_of(&env, IMAGE), bb, "{format}");
        assert_eq!(id_of(&env, "localhost/other:2"), other, "{format}");
        assert_eq!(env.ok(&["images", "-q"]).lines().count(), 2, "{format}");
        assert_eq!(env.ok(&["run", "--rm", "other:2"]), "other", "{format}");
        assert_eq!(env.ok(&["run", "--rm", IMAGE, "echo", "bb"]), "bb");
    }
}

#[test]
fn import_change_env_sets_the_environment() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    import_copy(
        &env,
        "withenv:1",
        &["ENV=FOO=bar", "ENV=GREETING=hello world"],
    );
    let doc = env
        .berth(&["image", "inspect", "withenv:1"])
        .success()
        .json();
    let vars: Vec<String> = serde_json::from_value(doc[0]["Config"]["Env"].clone()).unwrap();
    assert!(vars.contains(&"FOO=bar".to_string()), "{vars:?}");
    assert!(
        vars.contains(&"GREETING=hello world".to_string()),
        "{vars:?}"
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "withenv:1",
            "sh",
            "-c",
            "echo $FOO $GREETING"
        ]),
        "bar hello world"
    );
    // `-e` at run time still wins over the image's ENV.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-e",
            "FOO=baz",
            "withenv:1",
            "sh",
            "-c",
            "echo $FOO"
        ]),
        "baz"
    );
}
