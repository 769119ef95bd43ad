#!/usr/bin/env bash
# Image transfer bench: berth vs. Podman (when installed) on the same data.
#
#   bench/images.sh [--runs N] [--layer-mb MB] [--out FILE]
#
# Builds a multi-layer image (busybox + 4 layers of about --layer-mb MB,
# default 50: random and base64 files, so it compresses like real content),
# pushes it to Debian's docker-registry started on 127.0.0.1 for the run, then
# times, each into a fresh store and N times (default 3, medians):
#   pull of that image, save (docker-archive) and load of it, commit of a
#   container with 50 MB of changes, cp of a 100 MB directory in and out;
# and records the peak RSS of a pull of the full image and of a one-layer
# image (memory must stay flat in the image size: layers are streamed).
# Writes the "Images" section of bench/RESULTS.md (between the
# <!-- images:begin/end --> markers; the rest of the file is kept).
# Everything it creates (registry, stores, archives) is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=3 layer_mb=50 out=$here/RESULTS.md
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift ;;
        --layer-mb) layer_mb=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
BERTH=${BERTH:-$repo/target/release/berth}
[ -x "$BERTH" ] || { echo "build first: cargo build --release -p berth-cli -p berth-monitor --bins" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry missing: scripts/install-deps.sh" >&2; exit 1; }
have_podman=0
command -v podman >/dev/null && have_podman=1
unset BERTH_ROOT BERTH_RUNROOT BERTH_RUNTIME BERTH_MONITOR

work=$(mktemp -d /var/tmp/berth-images-bench.XXXXXX)
reg_pid=
cleanup() {
    set +e
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    for d in "$work"/p-*; do
        [ -d "$d" ] && podman --root "$d/root" --runroot "$d/run" rmi -a -f >/dev/null 2>&1
    done
    "$BERTH" --root "$work/build/root" --runroot "$work/build/run" rm -a -f >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- registry
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
reg=127.0.0.1:$port

# ---------------------------------------------------------------- image
b() { "$BERTH" --root "$work/build/root" --runroot "$work/build/run" "$@"; }
archive=$repo/target/test-images/busybox.tar
[ -f "$archive" ] || bash "$repo/scripts/build-busybox-image.sh" "$archive"
b load -q -i "$archive" >/dev/null
pairs=$(( layer_mb * 1000 / 1210 ))
base=localhost/busybox:latest
for i in 1 2 3 4; do
    b run --name "layer$i" "$base" sh -c "mkdir -p /data$i && cd /data$i && for n in \$(seq $pairs); do head -c 400000 /dev/urandom > r\$n; head -c 600000 /dev/urandom | base64 > t\$n; done" >/dev/null
    b commit -q "layer$i" "localhost/bench/big:$i" >/dev/null
    b rm "layer$i" >/dev/null
    base=localhost/bench/big:$i
done
b push -q --tls-verify=false localhost/bench/big:4 "$reg/bench/big:1"
b push -q --tls-verify=false localhost/bench/big:1 "$reg/bench/small:1"
size_mb=$(b images --filter reference=localhost/bench/big:4 --format '{{.Size}}' | head -1)

# ---------------------------------------------------------------- timing
# time_one LABEL CMD...: run once, append "seconds maxrss_kb" to $work/LABEL.
time_one() {
    local label=$1; shift
    # Flush the previous step's dirty pages first: otherwise their writeback
    # lands in whichever command is timed next, for either engine.
    sync
    /usr/bin/time -o "$work/.t" -f '%e %M' "$@" >/dev/null 2>"$work/.err" || {
        echo "failed: $*" >&2; cat "$work/.err" >&2; exit 1; }
    cat "$work/.t" >>"$work/$label"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }

# 100 MB of host files for cp (100 x 1 MB, random so nothing is sparse).
mkdir -p "$work/cpdir"
for n in $(seq 100); do head -c 1000000 /dev/urandom >"$work/cpdir/f$n"; done

# fs_ops ENGINE-ARGV...: commit of 50 MB of changes, cp of the 100 MB
# directory in and out, timed under the given engine's label prefix.
fs_ops() {
    local who=$1 dir=$2; shift 2
    "$@" load -q -i "$archive" >/dev/null
    "$@" run "${run_extra[@]}" --name w localhost/busybox:latest sh -c 'head -c 50000000 /dev/urandom > /big' >/dev/null
    time_one "$who-commit" "$@" commit -q w localhost/bench/committed:1
    "$@" create --name c localhost/busybox:latest true >/dev/null
    time_one "$who-cp-in" "$@" cp "$work/cpdir" c:/cpdir
    time_one "$who-cp-out" "$@" cp c:/cpdir "$dir/out"
    "$@" rm -f w c >/dev/null
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
img=$reg/bench/big:1
for r in $(seq "$runs"); do
    s=$work/b-$r
    bb=("$BERTH" --root "$s/root" --runroot "$s/run")
    time_one berth-pull "${bb[@]}" pull -q --tls-verify=false "$img"
    time_one berth-save "${bb[@]}" save -o "$s/save.tar" "$img"
    time_one berth-load "$BERTH" --root "$s/root2" --runroot "$s/run2" load -i "$s/save.tar"
    time_one berth-pull-small "$BERTH" --root "$s/root3" --runroot "$s/run3" pull -q --tls-verify=false "$reg/bench/small:1"
    run_extra=()
    fs_ops berth "$s" "$BERTH" --root "$s/root4" --runroot "$s/run4"
    rm -rf "$s"
    if [ "$have_podman" = 1 ]; then
        p=$work/p-$r
        pp=(podman --root "$p/root" --runroot "$p/run" --storage-driver overlay
            --runtime runc --cgroup-manager cgroupfs --events-backend file)
        time_one podman-pull "${pp[@]}" pull -q --tls-verify=false "$img"
        time_one podman-save "${pp[@]}" save -o "$p/save.tar" "$img"
        "${pp[@]}" rmi -a -f >/dev/null
        time_one podman-load "${pp[@]}" load -i "$p/save.tar"
        "${pp[@]}" rmi -a -f >/dev/null
        time_one podman-pull-small "${pp[@]}" pull -q --tls-verify=false "$reg/bench/small:1"
        "${pp[@]}" rmi -a -f >/dev/null
        # Podman cannot raise its default rlimits here (no CAP_SYS_RESOURCE).
        run_extra=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
        fs_ops podman "$p" "${pp[@]}"
        "${pp[@]}" rmi -a -f >/dev/null
        rm -rf "$p"
    fi
done

# ---------------------------------------------------------------- report
row() { # label what unit target(ratio) column
    local op=$1 label=$2 target=$3 c=$4 scale=$5
    local bv pv ratio result
    bv=$(col "berth-$label" "$c")
    bv=$(awk -v v="$bv" -v s="$scale" 'BEGIN{printf "%.2f", v/s}')
    if [ "$have_podman" = 1 ]; then
        pv=$(col "podman-$label" "$c")
        pv=$(awk -v v="$pv" -v s="$scale" 'BEGIN{printf "%.2f", v/s}')
        ratio=$(awk -v a="$bv" -v b="$pv" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')
        if [ -n "$target" ]; then
            result=$(awk -v r="$ratio" -v t="$target" 'BEGIN{print (r<=t)?"PASS":"MISS"}')
        else
            result=-
        fi
    else
        pv=n/a ratio=n/a result=n/a
    fi
    echo "| $op | $bv | $pv | $ratio | ${target:+≤ $target× podman} | $result |"
}
section=$work/section.md
{
    echo "<!-- images:begin -->"
    echo "## Images (bench/images.sh)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'); image: busybox + 4 layers, $size_mb, served by docker-registry on 127.0.0.1 (plain HTTP); commit and cp on busybox;"
    echo "medians of $runs runs, each into a fresh store. podman: $( [ "$have_podman" = 1 ] && podman --version | awk '{print $3}' || echo 'not installed') (overlay)."
    echo "nproc $(nproc); load average (1/5/15 min) at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg); berth at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo
    echo "| operation | berth | podman | berth/podman | target | result |"
    echo "|---|---:|---:|---:|---|---|"
    row "pull (s)" pull 0.7 1 1
    row "save docker-archive (s)" save 0.7 1 1
    row "load (s)" load 0.7 1 1
    row "commit, 50 MB of changes (s)" commit 0.7 1 1
    row "cp of a 100 MB directory in (s)" cp-in 0.7 1 1
    row "cp of a 100 MB directory out (s)" cp-out 0.7 1 1
    row "pull peak RSS, full image (MB)" pull "" 2 1024
    row "pull peak RSS, one-layer image (MB)" pull-small "" 2 1024
    echo
    echo "Peak RSS comes from /usr/bin/time (%M). Pull memory is flat in the image size when the"
    echo "full-image and one-layer rows are about equal."
    echo "<!-- images:end -->"
} >"$section"
cat "$section"
if [ -f "$out" ] && grep -q '<!-- images:begin -->' "$out"; then
    python3 - "$out" "$section" <<'EOF'
import sys
out, sec = sys.argv[1], open(sys.argv[2]).read()
s = open(out).read()
a = s.index("<!-- images:begin -->")
b = s.index("<!-- images:end -->") + len("<!-- images:end -->")
open(out, "w").write(s[:a] + sec.rstrip("\n") + s[b:])
EOF
else
    { [ -f "$out" ] && echo; cat "$section"; } >>"$out"
fi
echo "wrote $out"
