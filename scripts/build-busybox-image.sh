#!/usr/bin/env bash
# Build a single-layer docker-archive of Debian's static busybox, without
# podman or docker, so tests have an image with no registry access.
#
#   scripts/build-busybox-image.sh OUT.tar [NAME]     (NAME default localhost/busybox:latest)
#
# Output is deterministic for a given busybox binary: fixed mtimes, sorted
# entries, numeric root ownership.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT.tar [NAME]" >&2
    exit 2
fi
out=$1
name=${2:-localhost/busybox:latest}
bb=/bin/busybox

if [ ! -x "$bb" ] || ! "$bb" --list >/dev/null 2>&1; then
    echo "installing busybox-static" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >&2
fi
# Debian's busybox package is dynamically linked; the image needs the static one.
if ldd "$bb" >/dev/null 2>&1; then
    echo "$bb is not static; install busybox-static" >&2
    exit 1
fi

epoch=1704067200                       # 2024-01-01T00:00:00Z, fixed for reproducibility
created=2024-01-01T00:00:00Z
case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
chmod 0755 "$root" "$root"/{bin,etc,proc,sys,dev}
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
install -m 0755 "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$root/bin/$applet"
done
ln -sf busybox "$root/bin/sh"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
berthuser:x:1000:1000:berth test user:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
berthuser:x:1000:
nogroup:x:65534:
GROUP
chmod 0644 "$root/etc/passwd" "$root/etc/group"

tarflags=(--sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu)
layer=$work/layer.tar
(cd "$root" && tar "${tarflags[@]}" -cf "$layer" ./*)
diff_hex=$(sha256sum "$layer" | cut -d' ' -f1)

arc=$work/archive
mkdir -p "$arc/$diff_hex"
mv "$layer" "$arc/$diff_hex/layer.tar"

python3 - "$arc" "$diff_hex" "$name" "$arch" "$created" <<'PY'
import hashlib, json, sys
arc, diff_hex, name, arch, created = sys.argv[1:]
config = {
    "architecture": arch,
    "os": "linux",
    "created": created,
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_hex]},
    "history": [{"created": created, "created_by": "scripts/build-busybox-image.sh"}],
}
data = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
cfg_hex = hashlib.sha256(data).hexdigest()
with open(f"{arc}/{cfg_hex}.json", "wb") as f:
    f.write(data)
manifest = [{"Config": f"{cfg_hex}.json", "RepoTags": [name], "Layers": [f"{diff_hex}/layer.tar"]}]
with open(f"{arc}/manifest.json", "w") as f:
    json.dump(manifest, f, separators=(",", ":"))
PY

(cd "$arc" && tar "${tarflags[@]}" -cf "$work/out.tar" ./*)
mv "$work/out.tar" "$out"
echo "$out"
