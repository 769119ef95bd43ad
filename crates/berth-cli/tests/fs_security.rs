//! RELIABILITY 42, 43 and 46: copying into and out of a container never
//! runs anything the container ships, never follows a symlink the container
//! swaps in out of its root, and an export racing a container that swaps a
//! file for a symlink to a host file never contains host content.

mod common;
use common::*;
use std::io::Read;
use std::path::Path;

/// A tar (plain, or gzip-compressed when `gzip`) holding `name` = `body`.
fn tar_of(name: &str, body: &[u8], gzip: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, body).unwrap();
    let plain = b.into_inner().unwrap();
    if !gzip {
        return plain;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    enc.finish().unwrap()
}

/// A shared object whose constructor creates `canary`, if a C compiler is
/// here (the libnss attack of CVE-2019-14271); else a script of the same name.
fn trojan_library(dir: &Path, canary: &Path) -> Vec<u8> {
    let src = dir.join("nss.c");
    let out = dir.join("nss.so");
    std::fs::write(
        &src,
        format!(
            "#include <fcntl.h>\n__attribute__((constructor)) static void pwn(void) {{ \
             open(\"{}\", O_CREAT | O_WRONLY, 0644); }}\n",
            canary.display()
        ),
    )
    .unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if built {
        std::fs::read(&out).unwrap()
    } else {
        format!("#!/bin/sh\ntouch {}\n", canary.display()).into_bytes()
    }
}

#[test]
fn scenario_43_cp_never_runs_what_the_container_ships() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let canary = env.path().join("canary");
    env.ok(&["run", "-d", "--name", "trojan", IMAGE, "sleep", "1000"]);
    // Trojans where a naive cp would pick them up: libnss for a chrooted
    // user lookup, unpigz and xz for decompression.
    let lib = env.path().join("lib");
    std::fs::write(&lib, trojan_library(env.path(), &canary)).unwrap();
    let script = env.path().join("script");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {} /canary\ncat\n", canary.display()),
    )
    .unwrap();
    env.ok(&[
        "exec",
        "trojan",
        "mkdir",
        "-p",
        "/lib/x86_64-linux-gnu",
        "/usr/bin",
    ]);
    env.ok(&[
        "cp",
        lib.to_str().unwrap(),
        "trojan:/lib/x86_64-linux-gnu/libnss_files.so.2",
    ]);
    for bin in [
        "/usr/bin/unpigz",
        "/usr/bin/xz",
        "/usr/bin/gzip",
        "/usr/bin/tar",
    ] {
        env.ok(&["cp", script.to_str().unwrap(), &format!("trojan:{bin}")]);
        env.ok(&["exec", "trojan", "chmod", "755", bin]);
    }
    env.ok(&[
        "exec",
        "trojan",
        "chmod",
        "755",
        "/lib/x86_64-linux-gnu/libnss_files.so.2",
    ]);

    // Copies in: a file, a directory, plain and gzip tar streams.
    let dir = env.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a"), "a\n").unwrap();
    env.ok(&["cp", dir.to_str().unwrap(), "trojan:/tmp/"]);
    env.ok(&["cp", dir.join("a").to_str().unwrap(), "trojan:/tmp/a2"]);
    let plain = tar_of("p.txt", b"plain\n", false);
    env.berth_stdin(&["cp", "-", "trojan:/tmp"], &plain)
        .success();
    let gz = tar_of("g.txt", b"gzip\n", true);
    env.berth_stdin(&["cp", "-", "trojan:/tmp"], &gz).success();
    assert_eq!(env.ok(&["exec", "trojan", "cat", "/tmp/g.txt"]), "gzip");
    // xz would need an external binary: refused by name, nothing run.
    let xz = [&[0xfdu8, b'7', b'z', b'X', b'Z', 0][..], &[0u8; 64][..]].concat();
    env.berth_stdin(&["cp", "-", "trojan:/tmp"], &xz)
        .code(125)
        .stderr_has("xz");

    // Copies out: a file, a directory, a tar stream, an export.
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    env.ok(&["cp", "trojan:/tmp/dir", out.to_str().unwrap()]);
    env.ok(&[
        "cp",
        "trojan:/etc/passwd",
        out.join("passwd").to_str().unwrap(),
    ]);
    let o = env.command(&["cp", "trojan:/tmp", "-"]).output().unwrap();
    assert!(o.status.success());
    let o = env.command(&["export", "trojan"]).output().unwrap();
    assert!(o.status.success());

    // Stopped container (no running process to enter) the same.
    env.ok(&["stop", "-t", "0", "trojan"]);
    env.ok(&["cp", "trojan:/tmp/a2", out.join("a3").to_str().unwrap()]);
    env.berth_stdin(&["cp", "-", "trojan:/tmp"], &gz).success();

    assert!(
        !canary.exists(),
        "a trojan from the container ran on the host"
    );
    let mp = env.ok(&["mount", "trojan"]);
    assert!(
        !Path::new(mp.trim()).join("canary").exists(),
        "a trojan ran inside the container's root"
    );
    env.ok(&["unmount", "trojan"]);
}

#[test]
fn scenario_46_export_racing_a_symlink_swap_never_reads_the_host() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let secret_path = env.path().join("host-secret");
    let secret = format!("host-secret-{}", unique("s"));
    std::fs::write(&secret_path, &secret).unwrap();
    let swap = format!(
        "while true; do echo safe > /f.tmp; mv /f.tmp /f; ln -sf {} /f; done",
        secret_path.display()
    );
    env.ok(&["run", "-d", "--name", "swapper", IMAGE, "sh", "-c", &swap]);
    let mut saw_file = 0;
    let mut saw_link = 0;
    for _ in 0..25 {
        let o = env.command(&["export", "swapper"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let needle = secret.as_bytes();
        assert!(
            !o.stdout.windows(needle.len()).any(|w| w == needle),
            "the export contains the host file's content"
        );
        let mut ar = tar::Archive::new(&o.stdout[..]);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() != Some("f") {
                continue;
            }
            match e.header().entry_type() {
                tar::EntryType::Symlink => saw_link += 1,
                _ => {
                    let mut body = String::new();
                    e.read_to_string(&mut body).unwrap();
                    assert_eq!(body, "safe\n");
                    saw_file += 1;
                }
            }
        }
        // Also cp of the same path: a symlink is copied as a link, or the
        // container's file; never the host's.
        let o = env.command(&["cp", "swapper:/f", "-"]).output().unwrap();
        assert!(!o.stdout.windows(needle.len()).any(|w| w == needle));
    }
    assert!(saw_file + saw_link > 0, "the exported tars never held /f");
    env.ok(&["rm", "-f", "-t", "0", "swapper"]);
}

/// RELIABILITY 42 (CVE-2018-15664), end to end: while the container itself
/// keeps swapping a directory for a symlink to `/`, `berth cp` in and out
/// of that directory never writes or reads the host's files. (Scaled down
/// from 1000 rounds; berth-core's test runs the same race in-process.)
#[test]
fn scenario_42_cp_racing_a_container_swapping_in_a_root_symlink_stays_inside() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let canary = unique("berth-cp-race");
    let secret = format!("host-secret-{canary}");
    // The host file an escape through `/dir` -> `/` would read.
    let secret_name = format!("{canary}-secret");
    let host_secret = Path::new("/tmp").join(&secret_name);
    std::fs::write(&host_secret, &secret).unwrap();
    let swap = "mkdir -p /dir/tmp; echo inside > /dir/data; touch /ready; \
                while true; do mv /dir /dir.real; ln -s / /dir; rm /dir; mv /dir.real /dir; done";
    env.ok(&["run", "-d", "--name", "racer", IMAGE, "sh", "-c", swap]);
    wait_until("the swapper started", || {
        env.berth(&["exec", "racer", "test", "-f", "/ready"]).code == 0
    });
    let src = env.path().join(&canary);
    std::fs::write(&src, "copied in").unwrap();
    let outside = format!("racer:/dir/tmp/{secret_name}");
    for _ in 0..100 {
        let _ = env.berth(&["cp", src.to_str().unwrap(), "racer:/dir/"]);
        let o = env.command(&["cp", &outside, "-"]).output().unwrap();
        let needle = secret.as_bytes();
        assert!(
            !o.stdout.windows(needle.len()).any(|w| w == needle),
            "cp out read the host's file through the swapped symlink"
        );
        // Whatever the race gives, never anything but the container's data.
        let o = env
            .command(&["cp", "racer:/dir/data", "-"])
            .output()
            .unwrap();
        assert!(!o.stdout.windows(needle.len()).any(|w| w == needle));
        assert!(
            Path::new("/").join(&canary).symlink_metadata().is_err(),
            "cp in wrote into the host's root"
        );
    }
    // The swap loop ran throughout. (How many copies succeed proves
    // nothing: a copy in that lands while `/dir` is missing can leave the
    // loop moving a different directory.)
    assert_eq!(env.status("racer"), "running");
    let _ = std::fs::remove_file(&host_secret);
    env.ok(&["rm", "-f", "-t", "0", "racer"]);
}

/// RELIABILITY 44: `cp - CTR:/dir` with a tar entry `../escape` (written
/// raw: the tar crate refuses to make one) is rejected, and nothing lands
/// beside or above the target directory.
#[test]
fn scenario_44_cp_stream_with_a_parent_entry_is_rejected() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "target", IMAGE, "sleep", "1000"]);
    env.ok(&["exec", "target", "mkdir", "-p", "/dir/sub"]);
    for name in ["../escape", "sub/../../escape", "/../escape"] {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b"evil"[..]).unwrap();
        let o = env.berth_stdin(&["cp", "-", "target:/dir/sub"], &b.into_inner().unwrap());
        assert_eq!(o.code, 125, "{name}: {o}");
        assert_eq!(o.err().trim().lines().count(), 1, "{o}");
        for path in ["/escape", "/dir/escape"] {
            env.expect(&["exec", "target", "test", "-e", path], 1);
        }
    }
    env.ok(&["rm", "-f", "-t", "0", "target"]);
}
