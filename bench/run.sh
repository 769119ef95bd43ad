#!/usr/bin/env bash
# berth performance bench: berth vs. the raw runc floor vs. Podman, one run,
# one image, one machine. See bench/README.md.
#
#   bench/run.sh [--quick] [--with-podman] [--[no-]profile] [--strict]
#                [--runtime runc|crun] [--out FILE]
#
# Default (full) mode: 30 timed runs per command, `ps -a` at 100 and 1000
# containers, 5 monitors for memory, strace phase profile of one `run --rm`;
# writes bench/RESULTS.md.  --quick: 10 runs, 100 containers only, 3 monitors,
# no profile (unless --profile); writes $TMPDIR/berth-bench-quick.md unless
# --out is given.
# --strict: exit 1 if any target is missed (for CI).
#
# Everything the script creates (berth root/runroot, runc bundle and state,
# podman containers and, if it loaded it, the podman image) is removed on
# exit, including on failure or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

mode=full
with_podman=0
profile=
strict=0
runtime=runc
out=

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --quick) mode=quick ;;
        --with-podman) with_podman=1 ;;
        --no-profile) profile=0 ;;
        --profile) profile=1 ;;
        --strict) strict=1 ;;
        --runtime) runtime=${2:?--runtime needs a value}; shift ;;
        --runtime=*) runtime=${1#*=} ;;
        --out) out=${2:?--out needs a value}; shift ;;
        --out=*) out=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$mode" = quick ]; then
    warmup=2 runs=10 counts=(100) nmem=3 profile=${profile:-0}
    out=${out:-${TMPDIR:-/tmp}/berth-bench-quick.md}
else
    warmup=3 runs=30 counts=(100 1000) nmem=5 profile=${profile:-1}
    out=${out:-$here/RESULTS.md}
fi

BERTH=${BERTH:-$repo/target/release/berth}
BERTH_MON=${BERTH_MON:-$(dirname "$BERTH")/berth-mon}
IMAGE=localhost/busybox
unset BERTH_MONITOR BERTH_ROOT BERTH_RUNROOT BERTH_RUNTIME
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$BERTH" "$BERTH_MON"; do
    [ -x "$b" ] || { echo "missing $b: cargo build --release --bin berth --bin berth-mon" >&2; exit 1; }
done
runc_bin=$(command -v "$runtime") || { echo "OCI runtime $runtime not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
apt_install() {
    echo ">> apt-get install -y $*" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}
command -v hyperfine >/dev/null || apt_install hyperfine
if [ "$with_podman" = 1 ] && ! command -v podman >/dev/null; then
    apt_install podman
fi
if [ "$profile" = 1 ] && ! command -v strace >/dev/null; then
    apt_install strace || profile=0
fi

# ---------------------------------------------------------------- workspace
run_id=$$-$(date +%s)
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)   # berth --root, runc bundle
rr=$(mktemp -d /tmp/berth-bench-run.XXXXXX)      # berth --runroot, runc --root
root=$work/root
runroot=$rr/runroot
runc_state=$rr/runc
label=berth.bench=$run_id
podman_loaded_image=0
b() { "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" "$@"; }
P=(podman --cgroup-manager=cgroupfs --events-backend=file --runtime "$runc_bin")
p() { "${P[@]}" "$@"; }

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    echo ">> cleaning up" >&2
    if [ -d "$root" ]; then
        timeout 300 "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" rm -af -t 0 >/dev/null 2>&1
    fi
    if [ -d "$runc_state" ]; then
        for id in $("$runc_bin" --root "$runc_state" list -q 2>/dev/null); do
            "$runc_bin" --root "$runc_state" delete -f "$id" >/dev/null 2>&1
        done
    fi
    # Any monitor or container process still holding our directories.
    local pid
    for pid in $(grep -lsaE "$work|$rr" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
    done
    # Mounts berth (or anything) left below our directories, deepest first.
    awk -v a="$work" -v b="$rr" '(index($5, a) == 1 || index($5, b) == 1) {print $5}' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$work" "$rr"
    if [ "$with_podman" = 1 ] && command -v podman >/dev/null; then
        local ids
        ids=$(timeout 300 "${P[@]}" ps -aq --filter "label=$label" 2>/dev/null)
        [ -n "$ids" ] && timeout 600 "${P[@]}" rm -f -t 0 $ids >/dev/null 2>&1
        [ "$podman_loaded_image" = 1 ] && "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$root" "$runroot" "$runc_state" "$work/json" "$work/bin"
# Snapshot the binaries: a rebuild during the bench must not change them.
# berth finds berth-mon beside itself.
berth_built="$(date -u -r "$BERTH" '+%F %T') / $(date -u -r "$BERTH_MON" '+%F %T') UTC"
cp "$BERTH" "$work/bin/berth"
cp "$BERTH_MON" "$work/bin/berth-mon"
BERTH=$work/bin/berth
berth_sum=$(sha256sum "$BERTH" | cut -d' ' -f1)
log() { echo ">> $*" >&2; }

# hyperfine NAME COMMAND...: time COMMAND (no shell), JSON to $work/json/NAME.json.
# With HF_IGNORE=1, failing runs are kept (and counted in the report) instead
# of aborting the bench.
hf() {
    local name=$1; shift
    log "hyperfine: $*"
    hyperfine -N --style basic --warmup "$warmup" --runs "$runs" ${HF_IGNORE:+-i} \
        --export-json "$work/json/$name.json" -- "$(printf '%q ' "$@")" >&2
}
median_ms() {  # median of a hyperfine export, in ms
    python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}
stats_ms() {   # "mean ± stddev (min … max)" in ms
    python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["results"][0]
print("%.2f ± %.2f (%.2f … %.2f), n=%d" % (r["mean"]*1e3, (r["stddev"] or 0)*1e3, r["min"]*1e3, r["max"]*1e3, len(r["times"])))' "$1"
}
failures() {   # "k of n runs failed (exit codes ...)" or empty
    python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["results"][0]
bad=[c for c in r.get("exit_codes") or [] if c != 0]
if bad: print("%d of %d timed runs failed (exit codes %s)" % (len(bad), len(r["exit_codes"]), sorted(set(bad))))' "$1"
}
median_of() { python3 -c 'import statistics,sys; print("%.0f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
private_kb() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
declare -A R   # results: R[key]=value
notes=()       # remarks for the report

# ---------------------------------------------------------------- image
log "building image archive"
"$repo/scripts/build-busybox-image.sh" "$work/busybox.tar" >/dev/null
b load -i "$work/busybox.tar" >/dev/null
# (retried once: see the run --rm failure count in the report)
b run --rm "$IMAGE" true || b run --rm "$IMAGE" true || { echo "berth run --rm $IMAGE true failed" >&2; exit 1; }

# ---------------------------------------------------------------- 1. runc floor
# Bundle: the image's single layer, extracted; `runc spec` with args
# [/bin/true], no terminal, and berth's namespace set (pid, mount, ipc, uts,
# network, cgroup). Container id: a fixed one. Foreground `runc run` destroys
# the container when its process exits, so the id is free again before the
# next run (checked below with `runc list`); this needs no wrapper process,
# so nothing has to be subtracted.
log "runc floor"
bundle=$work/bundle
mkdir -p "$work/arc" "$bundle/rootfs"
tar -xf "$work/busybox.tar" -C "$work/arc"
layers=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$work/arc/manifest.json")
while read -r l; do tar -xf "$work/arc/$l" -C "$bundle/rootfs"; done <<<"$layers"
(cd "$bundle" && "$runc_bin" spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network", "cgroup")]
json.dump(c, open(p, "w"), indent=1)
PY
runc_cmd=("$runc_bin" --root "$runc_state" run -b "$bundle" berth-bench-floor)
"${runc_cmd[@]}" </dev/null
hf runc-run "${runc_cmd[@]}"
left=$("$runc_bin" --root "$runc_state" list -q)
[ -z "$left" ] || { echo "runc left containers behind: $left" >&2; exit 1; }
R[runc_run]=$(median_ms "$work/json/runc-run.json")

# ---------------------------------------------------------------- 2-4. berth
log "berth"
HF_IGNORE=1 hf berth-run "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" run --rm "$IMAGE" true
R[berth_run]=$(median_ms "$work/json/berth-run.json")
n=$(b ps -aq | wc -l)
if [ "$n" != 0 ]; then
    notes+=("\`berth run --rm\` left $n containers behind (removed before continuing).")
    b rm -af >/dev/null
fi

hf berth-create "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" create "$IMAGE" true
R[berth_create]=$(median_ms "$work/json/berth-create.json")
b rm -af >/dev/null

have=0
for n in "${counts[@]}"; do
    log "berth: creating containers up to $n"
    t0=$(date +%s.%N)
    while [ $have -lt "$n" ]; do b create "$IMAGE" true >/dev/null; have=$((have + 1)); done
    log "  took $(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)") s"
    [ "$(b ps -aq | wc -l)" = "$n" ] || { echo "expected $n containers" >&2; exit 1; }
    hf "berth-ps-$n" "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" ps -a
    R[berth_ps_$n]=$(median_ms "$work/json/berth-ps-$n.json")
done
t0=$(date +%s.%N)
b rm -af >/dev/null
R[berth_rm_all]=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")

# ---------------------------------------------------------------- 5. monitor memory
log "berth-mon private memory"
kbs=()
for i in $(seq 1 "$nmem"); do
    b run -d --name "bench-mem-$i" "$IMAGE" sleep 1000 >/dev/null
done
for i in $(seq 1 "$nmem"); do
    mpid=$(b inspect -f '{{.State.ConmonPid}}' "bench-mem-$i")
    kb=$(private_kb "$mpid")
    log "  bench-mem-$i monitor pid $mpid ($(tr '\0' ' ' </proc/"$mpid"/cmdline | cut -c1-60)...): ${kb} KB private"
    kbs+=("$kb")
done
R[berth_mem]=$(median_of "${kbs[@]}")
R[berth_mem_all]="${kbs[*]}"
b rm -af -t 0 >/dev/null

# ---------------------------------------------------------------- 6. podman
podman_version=n/a
if [ "$with_podman" = 1 ]; then
    podman_version=$(podman --version | awk '{print $NF}')
    log "podman $podman_version (storage: its default, $(p info -f '{{.Store.GraphRoot}}' 2>/dev/null))"
    if ! p image exists "$IMAGE"; then
        p load -i "$work/busybox.tar" >/dev/null
        podman_loaded_image=1
    fi
    # Options for every podman run/create. berth gives a container a private
    # network namespace with loopback only; the like-for-like Podman setting
    # is --network none. The label lets cleanup find exactly our containers.
    C=(--label "$label" --network none)
    # Podman's default rlimits for root (nofile 1048576; nproc) need
    # CAP_SYS_RESOURCE to raise hard limits; without it (some VMs and
    # sandboxes) `runc create` fails with EPERM. Then pass the limits the
    # podman process holds (it lowers its own nproc to 32768), as berth does.
    if ! p run --rm "${C[@]}" "$IMAGE" true 2>"$work/podman-err.txt"; then
        grep -q "error setting rlimit" "$work/podman-err.txt" || { cat "$work/podman-err.txt" >&2; exit 1; }
        nproc_max=$(ulimit -Hu)
        if [ "$nproc_max" = unlimited ] || [ "$nproc_max" -gt 32768 ]; then nproc_max=32768; fi
        U=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc_max:$nproc_max")
        C+=("${U[@]}")
        notes+=("podman could not apply its default rlimits here ($(grep -o 'error setting rlimit type [0-9]*' "$work/podman-err.txt" | head -1): no CAP_SYS_RESOURCE), so podman run/create got \`${U[*]}\`.")
        p run --rm "${C[@]}" "$IMAGE" true
    fi
    HF_IGNORE=1 hf podman-run "${P[@]}" run --rm "${C[@]}" "$IMAGE" true
    R[podman_run]=$(median_ms "$work/json/podman-run.json")
    # Podman's default (bridge) networking, for information.
    Cnet=("${C[@]:0:2}" "${C[@]:4}")
    if p run --rm "${Cnet[@]}" "$IMAGE" true >/dev/null 2>&1; then
        HF_IGNORE=1 hf podman-run-defaultnet "${P[@]}" run --rm "${Cnet[@]}" "$IMAGE" true
        R[podman_run_net]=$(median_ms "$work/json/podman-run-defaultnet.json")
    else
        R[podman_run_net]=failed
    fi
    hf podman-create "${P[@]}" create "${C[@]}" "$IMAGE" true
    R[podman_create]=$(median_ms "$work/json/podman-create.json")
    ids=$(p ps -aq --filter "label=$label"); [ -z "$ids" ] || p rm -f $ids >/dev/null
    have=0
    for n in "${counts[@]}"; do
        log "podman: creating containers up to $n"
        t0=$(date +%s.%N)
        while [ $have -lt "$n" ]; do p create "${C[@]}" "$IMAGE" true >/dev/null; have=$((have + 1)); done
        log "  took $(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)") s"
        total=$(p ps -aq | wc -l)
        [ "$total" = "$n" ] || notes+=("podman ps -a @$n listed $total containers (others existed before the bench).")
        hf "podman-ps-$n" "${P[@]}" ps -a
        R[podman_ps_$n]=$(median_ms "$work/json/podman-ps-$n.json")
    done
    t0=$(date +%s.%N)
    ids=$(p ps -aq --filter "label=$label"); [ -z "$ids" ] || p rm -f $ids >/dev/null
    R[podman_rm_all]=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")
    log "conmon private memory"
    kbs=() names=()
    for i in $(seq 1 "$nmem"); do
        names+=("bench-mem-$run_id-$i")
        p run -d "${C[@]}" --name "bench-mem-$run_id-$i" "$IMAGE" sleep 1000 >/dev/null
    done
    for nm in "${names[@]}"; do
        mpid=$(p inspect -f '{{.State.ConmonPid}}' "$nm")
        kb=$(private_kb "$mpid")
        log "  $nm conmon pid $mpid: ${kb} KB private"
        kbs+=("$kb")
    done
    R[podman_mem]=$(median_of "${kbs[@]}")
    R[podman_mem_all]="${kbs[*]}"
    p rm -f -t 0 "${names[@]}" >/dev/null
fi

# ---------------------------------------------------------------- profile
prof=$work/profile.md
: >"$prof"
if [ "$profile" = 1 ]; then
    log "profile: component costs"
    # What each separate piece costs on its own, untraced.
    hf comp-berth-version "$BERTH" version
    hf comp-berth-ps-empty "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" ps -a
    hf comp-runc-delete-missing "$runc_bin" --root "$runc_state" delete --force berth-bench-missing
    hf comp-runc-split "$here/runc-split.sh" "$runc_bin" "$runc_state" "$bundle" berth-bench-split
    log "profile: strace of one berth run --rm"
    b run --rm "$IMAGE" true || true   # warm caches
    # --seccomp-bpf: only the listed syscalls stop the tracee, so the
    # timeline is much closer to an untraced run than plain strace -f.
    strace -f --seccomp-bpf -ttt -s 200 -o "$work/trace.txt" \
        -e trace=execve,clone,clone3,vfork,mount,umount2,fsync,fdatasync \
        "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" run --rm "$IMAGE" true || log "(exit $?)"
    # Ten execve-only traces: phase medians close to untraced timing.
    for i in $(seq 1 10); do
        strace -f --seccomp-bpf -ttt -s 300 -o "$work/phase-$i.txt" -e trace=execve \
            "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" run --rm "$IMAGE" true || log "(exit $?)"
    done
    strace -f -y -T -o "$work/fsync-run.txt" -e trace=fsync,fdatasync \
        "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" run --rm "$IMAGE" true || log "(exit $?)"
    strace -f -y -T -o "$work/fsync-create.txt" -e trace=fsync,fdatasync \
        "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" create "$IMAGE" true >/dev/null || log "(exit $?)"
    b rm -af >/dev/null
    strace -f -c -o "$work/count.txt" \
        "$BERTH" --root "$root" --runroot "$runroot" --runtime "$runtime" run --rm "$IMAGE" true || log "(exit $?)"
    {
        echo "Component costs, untraced (hyperfine medians, ms):"
        echo
        echo "| component | median ms |"
        echo "|---|---:|"
        echo "| \`berth version\` (process start, no database) | $(median_ms "$work/json/comp-berth-version.json") |"
        echo "| \`berth ps -a\` with 0 containers (start + open both databases) | $(median_ms "$work/json/comp-berth-ps-empty.json") |"
        echo "| \`runc delete --force\` of a missing id (one runc exec, Go start) | $(median_ms "$work/json/comp-runc-delete-missing.json") |"
        echo "| runc split lifecycle: \`runc create\`; \`runc start\`; \`runc delete --force\` (bench/runc-split.sh) | $(median_ms "$work/json/comp-runc-split.json") |"
        echo "| runc floor: one \`runc run\` | ${R[runc_run]} |"
        echo
        echo "Phases of \`berth run --rm\`, median of 10 runs traced with \`strace -f --seccomp-bpf -e trace=execve\`"
        echo "(only exec stops the tracee; bench/phases.py):"
        echo
        python3 "$here/phases.py" "$work"/phase-*.txt
        echo
        python3 "$here/strace-timeline.py" "$work/trace.txt"
        echo
        echo "fsync/fdatasync in one \`berth run --rm\` (strace -f -y -T; the -T time is the syscall's own duration):"
        echo
        python3 "$here/fsync-summary.py" "$work/fsync-run.txt"
        echo
        echo "fsync/fdatasync in one \`berth create\`:"
        echo
        python3 "$here/fsync-summary.py" "$work/fsync-create.txt"
        echo
        echo "Syscall totals for one \`berth run --rm\` (all processes, \`strace -f -c\`; top 15 by time):"
        echo
        echo '```'
        head -n 17 "$work/count.txt"
        echo '```'
    } | sed "s|$work|\$WORK|g; s|$rr|\$RR|g" >>"$prof"
fi

# ---------------------------------------------------------------- report
verdict=0
row() {  # op berth runc podman target-kind target-value unit
    local op=$1 bv=$2 rv=$3 pv=$4 kind=$5 tv=$6 unit=$7 r1=n/a r2=n/a tgt res
    [ "$rv" != n/a ] && r1=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1])/float(sys.argv[2])))" "$bv" "$rv")
    [[ "$pv" =~ ^[0-9.]+$ ]] && r2=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1])/float(sys.argv[2])))" "$bv" "$pv")
    case $kind in
        ratio) tgt="≤ ${tv}× runc"; lim=$(python3 -c "import sys; print(float(sys.argv[1])*float(sys.argv[2]))" "$rv" "$tv") ;;
        abs) tgt="≤ $tv $unit"; lim=$tv ;;
    esac
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$bv" "$lim"; then
        res=PASS
    else
        res=MISS
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$op" "$bv" "$rv" "$pv" "$r1" "$r2" "$tgt" "$res"
}
pv() { echo "${R[$1]:-n/a}"; }
table=$(
    echo "| operation | berth | runc | podman | berth/runc | berth/podman | target | result |"
    echo "|---|---:|---:|---:|---:|---:|---|---|"
    row "run --rm true (ms)" "${R[berth_run]}" "${R[runc_run]}" "$(pv podman_run)" ratio 1.5 ms
    row "create (ms)" "${R[berth_create]}" n/a "$(pv podman_create)" abs 5 ms
    row "ps -a @100 (ms)" "${R[berth_ps_100]}" n/a "$(pv podman_ps_100)" abs 5 ms
    if [ -n "${R[berth_ps_1000]:-}" ]; then
        row "ps -a @1000 (ms)" "${R[berth_ps_1000]}" n/a "$(pv podman_ps_1000)" abs 10 ms
    fi
    row "monitor private memory (KB)" "${R[berth_mem]}" n/a "$(pv podman_mem)" abs 300 KB
)
echo
echo "$table"
echo
case $table in *"| MISS |"*) verdict=1 ;; esac
for f in "$work"/json/*.json; do
    fl=$(failures "$f")
    [ -z "$fl" ] || echo "WARNING: $(basename "$f" .json): $fl"
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
runc_version=$("$runc_bin" --version | head -1 | awk '{print $NF}')
{
    echo "# berth bench results"
    echo
    echo "Written by \`bench/run.sh\` ($mode mode$([ "$with_podman" = 1 ] && echo ", --with-podman")). Medians of $runs timed runs after $warmup warm-up runs (hyperfine -N, no shell)."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M:%S UTC') |"
    echo "| kernel (\`uname -r\`) | $(uname -r) |"
    echo "| nproc | $(nproc) |"
    echo "| CPU | $cpu |"
    echo "| load average (1/5/15 min) | at start $load_start; at end $(cut -d' ' -f1-3 /proc/loadavg) |"
    echo "| memory | $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |"
    echo "| cgroups | $(if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; elif [ -d /sys/fs/cgroup/unified ]; then echo v1 hybrid; else echo v1; fi) |"
    echo "| OCI runtime | $runc_bin $runc_version (used by all three) |"
    echo "| podman | $podman_version$([ "$with_podman" = 1 ] && echo " (conmon $(conmon --version 2>/dev/null | head -1 | awk '{print $NF}'))") |"
    echo "| berth | $("$BERTH" version 2>/dev/null | awk '/^Version/ {print $2; exit}'); binaries built $berth_built (berth sha256 ${berth_sum:0:12}); tree at HEAD $(git -C "$repo" rev-parse --short HEAD 2>/dev/null) of $(git -C "$repo" log -1 --format=%cd --date=format:'%F %T' 2>/dev/null)$(git -C "$repo" diff --quiet HEAD -- crates 2>/dev/null || echo ", uncommitted changes in crates/") |"
    echo
    echo "## Results"
    echo
    echo "$table"
    echo
    echo "Times are wall-clock medians in ms; memory is Private_Clean + Private_Dirty"
    echo "from /proc/PID/smaps_rollup of the per-container monitor (berth-mon / conmon),"
    echo "median of $nmem containers running \`sleep 1000\`."
    echo
    echo "## Details"
    echo
    echo "| measurement | mean ± stddev (min … max), ms |"
    echo "|---|---|"
    for f in "$work"/json/*.json; do
        echo "| $(basename "$f" .json) | $(stats_ms "$f") |"
    done
    echo
    for f in "$work"/json/*.json; do
        fl=$(failures "$f")
        [ -z "$fl" ] || echo "- **$(basename "$f" .json): $fl** (their times are included in the statistics)"
    done
    for n in "${notes[@]}"; do echo "- $n"; done
    echo "- monitor private KB, each container: berth-mon ${R[berth_mem_all]}$([ -n "${R[podman_mem_all]:-}" ] && echo "; conmon ${R[podman_mem_all]}")"
    echo "- \`berth rm -af\` of ${counts[-1]} created containers: ${R[berth_rm_all]} s"
    if [ "$with_podman" = 1 ]; then
        echo "- podman \`run --rm\` with its default network (not --network none): $(pv podman_run_net) ms median"
        echo "- \`podman rm -f\` of ${counts[-1]} created containers: $(pv podman_rm_all) s"
    fi
    echo
    echo "## Method"
    echo
    echo "- runc floor: the image's layer extracted into a bundle rootfs, \`runc spec\` with"
    echo "  args [/bin/true], terminal false and berth's namespaces (pid, mount, ipc, uts,"
    echo "  network, cgroup); timed command \`runc --root STATE run -b BUNDLE berth-bench-floor\`."
    echo "  The id is fixed: a foreground \`runc run\` deletes the container when it exits, so"
    echo "  no id-generating wrapper is needed and nothing is subtracted (the script checks"
    echo "  \`runc list\` is empty afterwards)."
    echo "- berth: private \`--root\` under /var/tmp and \`--runroot\` under /tmp, \`--runtime $runtime\`."
    echo "- podman: its default storage, \`--cgroup-manager=cgroupfs --events-backend=file"
    echo "  --runtime $runc_bin\` (no systemd on this host), \`--network none\` for run/create so the"
    echo "  container gets a loopback-only network namespace like berth's."
    echo "- \`create\`: containers accumulate during the timed runs (${runs}+${warmup} of them), then are removed."
    echo "- \`ps -a @N\`: N containers in state Created, made with \`create\` first."
    if [ -s "$prof" ]; then
        echo
        echo "## Profile: where one \`berth run --rm true\` spends its time"
        echo
        cat "$prof"
    fi
} >"$out"
log "wrote $out"
[ "$strict" = 1 ] && exit "$verdict"
exit 0
