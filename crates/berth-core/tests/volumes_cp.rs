//! Volumes, `mount`/`unmount` and `cp` through the library API, against a
//! temporary root and the busybox test image (RELIABILITY.md 40–45).

use berth_core::volumes::{self, VolumeCreateOptions};
use berth_core::{CreateOptions, ErrorKind, Runtime, RuntimeOptions};
use std::path::{Path, PathBuf};

/// The busybox test image as a fresh archive of this call's own (tests run
/// in parallel threads, and each removes its archive once loaded).
fn archive() -> Option<PathBuf> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("berth-core-volcp-{}-{n}.tar", std::process::id()));
    let ok = std::process::Command::new("bash")
        .arg(root.join("scripts/build-busybox-image.sh"))
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(out)
}

fn setup() -> Option<(tempfile::TempDir, Runtime)> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    let Some(archive) = archive() else {
        eprintln!("skipped: cannot build the test image");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(RuntimeOptions {
        root: Some(dir.path().join("root")),
        runroot: Some(dir.path().join("run")),
        ..Default::default()
    })
    .unwrap();
    rt.load_images(&archive).unwrap();
    let _ = std::fs::remove_file(&archive);
    Some((dir, rt))
}

fn create<'r>(rt: &'r Runtime, volumes: &[&str]) -> berth_core::Container<'r> {
    rt.create_container(&CreateOptions {
        image: "localhost/busybox".into(),
        command: vec!["true".into()],
        volumes: volumes.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .unwrap()
}

/// A ustar archive of regular files, written by hand (this crate has no
/// `tar` dependency, and names like `../escape` must go in unchanged).
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Entry names of a tar, listed by the host's own `tar`.
fn tar_names(data: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("tar")
        .arg("-tf")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn mount_is_reference_counted_and_cp_stays_in_root() {
    let Some((dir, rt)) = setup() else { return };
    let c = create(&rt, &[]);
    let m = c.mount().unwrap();
    assert_eq!(c.mount().unwrap(), m);
    assert!(m.join("bin/busybox").exists());
    assert_eq!(c.unmount(false).unwrap(), 1);
    assert!(c.mountpoint().unwrap().is_some());
    assert_eq!(c.unmount(false).unwrap(), 0);
    assert!(c.mountpoint().unwrap().is_none());

    // 40: /test -> /tmp inside the container; the file lands in its /tmp.
    let root = c.mount().unwrap();
    std::os::unix::fs::symlink("/tmp", root.join("test")).unwrap();
    let host_file = dir.path().join("f");
    std::fs::write(&host_file, b"hello").unwrap();
    c.copy_in(&host_file, "/test").unwrap();
    assert_eq!(std::fs::read(root.join("tmp/f")).unwrap(), b"hello");
    c.copy_in(&host_file, "/renamed").unwrap();
    assert_eq!(std::fs::read(root.join("renamed")).unwrap(), b"hello");

    // 41: a symlink to a host path resolves inside the rootfs: not found.
    let secret = dir.path().join("hostfile");
    std::fs::write(&secret, b"host secret").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("tmp/badlink")).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let e = c.copy_out("/tmp/badlink", &out).unwrap_err();
    assert!(e.message.contains("could not be found"), "{e}");
    let e = c.copy_out("/tmp/*", &out).unwrap_err();
    assert!(e.message.contains("could not be found"), "{e}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);

    // Out to the host, and a tar stream out.
    c.copy_out("/etc/passwd", &out).unwrap();
    assert!(std::fs::read_to_string(out.join("passwd"))
        .unwrap()
        .contains("root"));
    c.copy_out("/etc", &out.join("etc-copy")).unwrap();
    assert!(out.join("etc-copy/passwd").exists());
    let tar = c.copy_out_tar("/etc", Vec::new()).unwrap();
    let names = tar_names(&tar);
    assert!(names.contains(&"etc/passwd".to_string()), "{names:?}");

    // 44: `cp - ctr:/dir` with ../escape is rejected, nothing escapes.
    let evil = tar_of(&[("ok", b"x"), ("../escape", b"x")]);
    assert!(c.copy_in_tar(&evil[..], "/tmp").is_err());
    assert!(!root.join("escape").exists() && !root.parent().unwrap().join("escape").exists());
    c.copy_in_tar(&tar_of(&[(".wh.plain", b"y")])[..], "/tmp")
        .unwrap();
    assert_eq!(std::fs::read(root.join("tmp/.wh.plain")).unwrap(), b"y");

    // 45: a directory made through a symlink to /etc/newdir stays inside.
    std::os::unix::fs::symlink("/etc/berth-newdir", root.join("wd")).unwrap();
    c.copy_in_tar(&tar_of(&[("x", b"1")])[..], "/wd")
        .unwrap_err();
    assert!(!Path::new("/etc/berth-newdir").exists());

    c.unmount(true).unwrap();
    c.remove(false, None).unwrap();
}

#[test]
fn symlink_swap_race_never_reaches_the_host() {
    // 42 (CVE-2018-15664): the container swaps a directory for a symlink to
    // `/` while we copy in and out. The swapper runs on the host directly
    // in the rootfs: the same filesystem operations the container would do.
    let Some((dir, rt)) = setup() else { return };
    let c = create(&rt, &[]);
    let root = c.mount().unwrap();
    let canary = format!("berth-race-canary-{}", std::process::id());
    std::fs::create_dir(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/data"), b"container data").unwrap();
    let host_src = dir.path().join(&canary);
    std::fs::write(&host_src, b"in").unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(root.join("dir"), root.join("tmpdir"));
                let _ = std::os::unix::fs::symlink("/", root.join("dir"));
                let _ = std::fs::remove_file(root.join("dir"));
                let _ = std::fs::rename(root.join("tmpdir"), root.join("dir"));
            }
        });
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // Bounded: 300 rounds of one copy in and one out.
        for _ in 0..300 {
            let _ = c.copy_in(&host_src, "/dir/");
            let _ = c.copy_out("/dir/etc/shadow", &out.join("shadow"));
            let _ = c.copy_out("/dir/data", &out.join("data"));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Never the host's root: neither written nor read.
        assert!(!Path::new("/").join(&canary).exists());
        if let Ok(got) = std::fs::read(out.join("shadow")) {
            let host = std::fs::read("/etc/shadow").unwrap_or_default();
            assert!(
                host.is_empty() || got != host,
                "host /etc/shadow was copied out"
            );
        }
    });
    c.unmount(true).unwrap();
    c.remove(false, None).unwrap();
}

#[test]
fn volumes_lifecycle_copy_up_and_in_use() {
    let Some((_dir, rt)) = setup() else { return };
    let v = rt
        .create_volume(&VolumeCreateOptions {
            name: Some("named".into()),
            labels: vec!["k=v".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(Path::new(&v.mountpoint).is_dir());
    assert_eq!(
        rt.create_volume(&VolumeCreateOptions {
            name: Some("named".into()),
            ..Default::default()
        })
        .unwrap_err()
        .kind,
        ErrorKind::NameInUse
    );
    assert!(rt
        .create_volume(&VolumeCreateOptions {
            name: Some("../x".into()),
            ..Default::default()
        })
        .is_err());
    assert!(rt.volume_exists("named").unwrap());
    assert!(!rt.volume_exists("nope").unwrap());

    // A container using "named" at /etc and an anonymous one at /anon.
    let c = create(&rt, &["named:/etc", "/anon"]);
    // `create` prepared the mounts: "named" existed, the anonymous one is new.
    let cfg = c.inspect_record().unwrap().config;
    let anons: Vec<String> = rt
        .volumes()
        .unwrap()
        .into_iter()
        .filter(|v| v.anonymous)
        .map(|v| v.name)
        .collect();
    assert_eq!(anons.len(), 1, "only the anonymous volume is new");
    let anon = anons[0].clone();
    assert!(rt.volume(&anon).unwrap().anonymous);
    let root = c.mount().unwrap();
    volumes::copy_up(&rt, &cfg, &root).unwrap();
    assert!(
        Path::new(&v.mountpoint).join("passwd").exists(),
        "copied up"
    );
    assert!(!rt.volume("named").unwrap().needs_copy_up);

    // In use: refused without force; prune keeps it.
    let e = rt.remove_volume("named", false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InUse);
    assert!(e.message.contains(c.id()), "{e}");
    assert_eq!(rt.volume_users("named").unwrap(), [c.id().to_string()]);
    assert!(rt.prune_volumes().unwrap().is_empty());

    // rm -v: the anonymous volume goes, the named one stays.
    c.unmount(true).unwrap();
    rt.remove_container(&c, false, None, true).unwrap();
    assert!(!rt.volume_exists(&anon).unwrap());
    assert!(rt.volume_exists("named").unwrap());
    assert_eq!(rt.prune_volumes().unwrap(), ["named"]);
    assert!(!Path::new(&v.mountpoint).exists());
    assert!(rt.volumes().unwrap().is_empty());

    // Force removes the user container.
    create(&rt, &["forced:/x"]);
    rt.remove_volume("forced", true).unwrap();
    assert!(rt.containers().unwrap().is_empty());
}
