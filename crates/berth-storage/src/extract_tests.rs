//! Crafted hostile layers (RELIABILITY.md 35–39; moby's TestUntarInvalid*).
//! Each test extracts into `<tmp>/layer` with a `<tmp>/victim` sibling and
//! asserts nothing outside the layer changed.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use crate::extract::{extract_layer, ExtractOptions};

const LABEL: &str = "image \"test\" layer sha256:0123456789ab";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// One raw tar entry: names are written byte-for-byte (tar::Builder would
/// refuse `..`, which is exactly what we need to test).
struct E {
    name: &'static str,
    kind: EntryType,
    link: &'static str,
    data: Vec<u8>,
    mode: u32,
}

fn file(name: &'static str, data: &[u8]) -> E {
    E {
        name,
        kind: EntryType::Regular,
        link: "",
        data: data.to_vec(),
        mode: 0o644,
    }
}
fn dir(name: &'static str) -> E {
    E {
        name,
        kind: EntryType::Directory,
        link: "",
        data: vec![],
        mode: 0o755,
    }
}
fn symlink(name: &'static str, target: &'static str) -> E {
    E {
        name,
        kind: EntryType::Symlink,
        link: target,
        data: vec![],
        mode: 0o777,
    }
}
fn hardlink(name: &'static str, target: &'static str) -> E {
    E {
        name,
        kind: EntryType::Link,
        link: target,
        data: vec![],
        mode: 0o644,
    }
}

fn build(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            g.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            g.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        }
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, e.data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    layer: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

/// Everything outside `layer`: path → (type, size, mode, content).
fn snapshot(base: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(p: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for ent in fs::read_dir(p).unwrap() {
            let path = ent.unwrap().path();
            if path == skip {
                continue;
            }
            let md = fs::symlink_metadata(&path).unwrap();
            let content = if md.is_file() {
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned()
            } else {
                String::new()
            };
            out.insert(
                path.clone(),
                format!(
                    "{:?} {} {:o} {} {}",
                    md.file_type(),
                    md.len(),
                    md.mode(),
                    md.nlink(),
                    content
                ),
            );
            if md.is_dir() {
                walk(&path, skip, out);
            }
        }
    }
    walk(base, skip, &mut out);
    out
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let layer = base.join("layer");
    fs::create_dir(&layer).unwrap();
    fs::create_dir(base.join("victim")).unwrap();
    fs::write(base.join("victim/hello"), b"hello").unwrap();
    let before = snapshot(&base, &layer);
    Fixture {
        _tmp: tmp,
        base,
        layer,
        before,
    }
}

impl Fixture {
    fn run(&self, entries: &[E]) -> berth_types::Result<u64> {
        self.run_opts(entries, &ExtractOptions::default())
    }
    fn run_opts(&self, entries: &[E], opts: &ExtractOptions) -> berth_types::Result<u64> {
        extract_layer(build(entries).as_slice(), &self.layer, LABEL, opts)
    }
    fn assert_outside_untouched(&self) {
        assert_eq!(
            self.before,
            snapshot(&self.base, &self.layer),
            "something outside the layer changed"
        );
    }
}

fn assert_rejected(r: berth_types::Result<u64>) {
    let e = r.expect_err("hostile layer must be rejected");
    assert!(
        e.message.contains(LABEL),
        "error must name the image/layer: {}",
        e.message
    );
}

#[test]
fn dotdot_paths_are_rejected() {
    if !is_root() {
        eprintln!("skipping: needs root (chown)");
        return;
    }
    for name in ["../victim/dotdot", "/../victim/slash-dotdot", "a/../../x"] {
        let f = fixture();
        assert_rejected(f.run(&[file(name, b"evil")]));
        f.assert_outside_untouched();
    }
    let f = fixture();
    assert_rejected(f.run(&[dir("..")]));
    f.assert_outside_untouched();
}

#[test]
fn absolute_paths_are_confined() {
    if !is_root() {
        return;
    }
    let f = fixture();
    f.run(&[file("/abs/file", b"x")]).unwrap();
    assert_eq!(fs::read(f.layer.join("abs/file")).unwrap(), b"x");
    f.assert_outside_untouched();
}

#[test]
fn hardlinks_out_of_the_layer_are_rejected() {
    if !is_root() {
        return;
    }
    for target in ["../victim/hello", "/etc/shadow", "etc/shadow"] {
        let f = fixture();
        assert_rejected(f.run(&[hardlink("hl", target)]));
        f.assert_outside_untouched();
        assert!(fs::symlink_metadata(f.layer.join("hl")).is_err());
    }
    // Via a symlink that points out of the layer.
    let f = fixture();
    assert_rejected(f.run(&[
        symlink("loophole-victim", "../victim"),
        hardlink("loophole-victim/hl", "../victim/hello"),
    ]));
    f.assert_outside_untouched();
    let f = fixture();
    assert_rejected(f.run(&[
        symlink("loophole-victim", "../victim"),
        hardlink("hl", "loophole-victim/hello"),
    ]));
    f.assert_outside_untouched();
}

#[test]
fn hardlinks_inside_the_layer_work() {
    if !is_root() {
        return;
    }
    let f = fixture();
    f.run(&[file("a", b"data"), hardlink("b", "a"), hardlink("c", "/a")])
        .unwrap();
    let a = fs::metadata(f.layer.join("a")).unwrap();
    assert_eq!(a.ino(), fs::metadata(f.layer.join("b")).unwrap().ino());
    assert_eq!(a.ino(), fs::metadata(f.layer.join("c")).unwrap().ino());
    f.assert_outside_untouched();
}

#[test]
fn writes_through_symlinks_never_leave_the_layer() {
    if !is_root() {
        return;
    }
    // loophole-victim -> ../victim then a file inside it.
    let f = fixture();
    assert_rejected(f.run(&[
        symlink("loophole-victim", "../victim"),
        file("loophole-victim/file", b"evil"),
    ]));
    f.assert_outside_untouched();

    // Absolute symlink to the victim's real host path.
    let f = fixture();
    let abs: &'static str = Box::leak(f.base.join("victim").display().to_string().into_boxed_str());
    assert_rejected(f.run(&[symlink("abs", abs), file("abs/file", b"evil")]));
    f.assert_outside_untouched();

    // Symlink chains.
    let f = fixture();
    assert_rejected(f.run(&[
        symlink("a", "b"),
        symlink("b", "../victim"),
        file("a/file", b"evil"),
    ]));
    f.assert_outside_untouched();
    let f = fixture();
    assert_rejected(f.run(&[
        symlink("a", "b"),
        symlink("b", "/../../victim"),
        file("a/hello", b"evil"),
    ]));
    f.assert_outside_untouched();

    // A symlink pointing in-layer is followed but stays confined.
    let f = fixture();
    f.run(&[dir("real"), symlink("lnk", "/real"), file("lnk/f", b"ok")])
        .unwrap();
    assert_eq!(fs::read(f.layer.join("real/f")).unwrap(), b"ok");
    f.assert_outside_untouched();
}

#[test]
fn symlinks_are_stored_not_followed() {
    if !is_root() {
        return;
    }
    let f = fixture();
    f.run(&[
        symlink("dotdot", "../victim/hello"),
        symlink("slash-dotdot", "/../victim/hello"),
        symlink("shadow", "/etc/shadow"),
    ])
    .unwrap();
    assert_eq!(
        fs::read_link(f.layer.join("dotdot")).unwrap(),
        Path::new("../victim/hello")
    );
    assert_eq!(
        fs::read_link(f.layer.join("shadow")).unwrap(),
        Path::new("/etc/shadow")
    );
    f.assert_outside_untouched();

    // A file entry replacing a symlink replaces it; the target is untouched.
    let f = fixture();
    f.run(&[
        symlink("dotdot", "../victim/hello"),
        file("dotdot", b"evil"),
    ])
    .unwrap();
    assert!(fs::symlink_metadata(f.layer.join("dotdot"))
        .unwrap()
        .is_file());
    f.assert_outside_untouched();
}

#[test]
fn whiteouts() {
    if !is_root() {
        return;
    }
    let f = fixture();
    f.run(&[
        dir("d"),
        file("d/.wh..wh..opq", b""),
        file("d/keep", b"k"),
        file(".wh.gone", b""),
        file("sub/.wh.x", b""),
    ])
    .unwrap();
    let wh = fs::symlink_metadata(f.layer.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(fs::symlink_metadata(f.layer.join("sub/x"))
        .unwrap()
        .file_type()
        .is_char_device());
    let mut buf = [0u8; 4];
    let n = rustix::fs::lgetxattr(f.layer.join("d"), "trusted.overlay.opaque", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(fs::symlink_metadata(f.layer.join(".wh.gone")).is_err());
    f.assert_outside_untouched();

    for name in [".wh.../../x", "a/.wh..", "../.wh.hello", ".wh."] {
        let f = fixture();
        assert_rejected(f.run(&[file(name, b"")]));
        f.assert_outside_untouched();
    }
}

#[test]
fn device_nodes_and_modes_are_kept() {
    if !is_root() {
        return;
    }
    let f = fixture();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_path("dev/null").unwrap();
    h.set_entry_type(EntryType::Char);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = Header::new_gnu();
    h.set_path("bin/su").unwrap();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_600_000_000);
    h.set_size(2);
    h.set_cksum();
    b.append(&h, &b"su"[..]).unwrap();
    // PAX xattr on a file.
    b.append_pax_extensions([("SCHILY.xattr.user.berth", &b"yes"[..])])
        .unwrap();
    let mut h = Header::new_gnu();
    h.set_path("x").unwrap();
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let data = b.into_inner().unwrap();
    extract_layer(data.as_slice(), &f.layer, LABEL, &ExtractOptions::default()).unwrap();

    let null = fs::symlink_metadata(f.layer.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let su = fs::symlink_metadata(f.layer.join("bin/su")).unwrap();
    assert_eq!(su.mode() & 0o7777, 0o4755);
    assert_eq!((su.uid(), su.gid()), (1000, 1001));
    assert_eq!(su.mtime(), 1_600_000_000);
    let mut buf = [0u8; 8];
    let n = rustix::fs::lgetxattr(f.layer.join("x"), "user.berth", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"yes");
    f.assert_outside_untouched();
}

#[test]
fn size_limit_stops_bombs() {
    if !is_root() {
        return;
    }
    let f = fixture();
    let big = vec![0u8; 2 << 20];
    let r = f.run_opts(
        &[file("a", &big[..1 << 20]), file("b", &big)],
        &ExtractOptions {
            max_bytes: 2 << 20,
            plain: false,
        },
    );
    let e = r.expect_err("over the limit");
    assert!(e.message.contains("size limit"), "{}", e.message);
    assert!(e.message.contains(LABEL));
    f.assert_outside_untouched();
}

#[test]
fn directory_replaced_by_file_and_dir_mtime_kept() {
    if !is_root() {
        return;
    }
    let f = fixture();
    f.run(&[
        dir("d"),
        file("d/inner", b"1"),
        file("d", b"now a file"),
        dir("e"),
        file("e/x", b""),
    ])
    .unwrap();
    assert!(fs::symlink_metadata(f.layer.join("d")).unwrap().is_file());
    assert_eq!(
        fs::metadata(f.layer.join("e")).unwrap().mtime(),
        1_700_000_000
    );
    f.assert_outside_untouched();
}
