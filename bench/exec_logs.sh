#!/usr/bin/env bash
# berth vs Podman, one run: `exec CTR true` latency and `logs` of a 100 MB
# log (issue 4's benchmark). Writes the "exec and logs" section of
# bench/RESULTS.md (other sections are kept) or --out FILE.
#
#   bench/exec_logs.sh [--runs N] [--out FILE]
#
# Targets: exec ≤ 0.5× Podman's time; logs throughput ≥ 2× Podman's.
# Both engines use runc, the k8s-file log driver and --network none.
# Everything the script creates is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=20
out=$here/RESULTS.md
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

BERTH=${BERTH:-$repo/target/release/berth}
BERTH_MON=${BERTH_MON:-$(dirname "$BERTH")/berth-mon}
IMAGE=localhost/busybox
LOG_BYTES=$((100 * 1024 * 1024))
unset BERTH_MONITOR BERTH_ROOT BERTH_RUNROOT BERTH_RUNTIME
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$BERTH" "$BERTH_MON"; do
    [ -x "$b" ] || { echo "missing $b: cargo build --release --bin berth --bin berth-mon" >&2; exit 1; }
done
runc_bin=$(command -v runc) || { echo "runc not found" >&2; exit 1; }
for tool in hyperfine podman; do
    command -v $tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y $tool >&2
done

run_id=$$-$(date +%s)
work=$(mktemp -d /var/tmp/berth-bench-el.XXXXXX)
rr=$(mktemp -d /tmp/berth-bench-el-run.XXXXXX)
root=$work/root runroot=$rr/runroot
label=berth.bench=$run_id
podman_loaded_image=0
b() { "$BERTH" --root "$root" --runroot "$runroot" --runtime runc "$@"; }
P=(podman --cgroup-manager=cgroupfs --events-backend=file --runtime "$runc_bin")
p() { "${P[@]}" "$@"; }
. "$here/lib.sh"

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    log "cleaning up"
    [ -d "$root" ] && timeout 300 "$BERTH" --root "$root" --runroot "$runroot" --runtime runc rm -af -t 0 >/dev/null 2>&1
    local pid
    for pid in $(grep -lsaE "$work|$rr" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
    done
    awk -v a="$work" -v b="$rr" '(index($5, a) == 1 || index($5, b) == 1) {print $5}' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$work" "$rr"
    local ids
    ids=$(timeout 300 "${P[@]}" ps -aq --filter "label=$label" 2>/dev/null)
    [ -n "$ids" ] && timeout 300 "${P[@]}" rm -f -t 0 $ids >/dev/null 2>&1
    [ "$podman_loaded_image" = 1 ] && "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$root" "$runroot" "$work/json" "$work/bin"
# Snapshot the binaries so a rebuild meanwhile cannot change them.
cp "$BERTH" "$BERTH_MON" "$work/bin/"
BERTH=$work/bin/berth

mb_per_s() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / 1048576 / (float(sys.argv[2]) / 1000)))' "$LOG_BYTES" "$1"; }

log "image"
"$repo/scripts/build-busybox-image.sh" "$work/busybox.tar" >/dev/null
b load -i "$work/busybox.tar" >/dev/null
if ! p image exists "$IMAGE"; then
    p load -i "$work/busybox.tar" >/dev/null
    podman_loaded_image=1
fi
C=(--label "$label" --network none --log-driver k8s-file)
notes=()
# Podman's default rlimits need CAP_SYS_RESOURCE (see run.sh).
if ! p run --rm "${C[@]}" "$IMAGE" true 2>"$work/podman-err.txt"; then
    grep -q "error setting rlimit" "$work/podman-err.txt" || { cat "$work/podman-err.txt" >&2; exit 1; }
    nproc_max=$(ulimit -Hu)
    if [ "$nproc_max" = unlimited ] || [ "$nproc_max" -gt 32768 ]; then nproc_max=32768; fi
    U=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc_max:$nproc_max")
    C+=("${U[@]}")
    notes+=("podman could not apply its default rlimits here (no CAP_SYS_RESOURCE), so its containers got \`${U[*]}\`.")
fi

# ---------------------------------------------------------------- exec
ex=bench-exec-$run_id
b run -d --name "$ex" "$IMAGE" sleep 1000 >/dev/null
p run -d --name "$ex" "${C[@]}" "$IMAGE" sleep 1000 >/dev/null
b exec "$ex" true
p exec "$ex" true
hf berth-exec "$runs" "$BERTH" --root "$root" --runroot "$runroot" --runtime runc exec "$ex" true
hf podman-exec "$runs" "${P[@]}" exec "$ex" true
berth_exec=$(median_ms "$work/json/berth-exec.json")
podman_exec=$(median_ms "$work/json/podman-exec.json")

# ---------------------------------------------------------------- logs
# 100 MB of 64-byte lines, written once; `logs` reads it whole.
lg=bench-logs-$run_id
writer="yes 012345678901234567890123456789012345678901234567890123456789012 | head -c $LOG_BYTES"
log "writing 100 MB logs"
b run -d --name "$lg" "$IMAGE" sh -c "$writer" >/dev/null
p run -d --name "$lg" "${C[@]}" "$IMAGE" sh -c "$writer" >/dev/null
b wait "$lg" >/dev/null
p wait "$lg" >/dev/null
berth_bytes=$(b logs "$lg" | wc -c)
podman_bytes=$(p logs "$lg" | wc -c)
[ "$berth_bytes" = "$LOG_BYTES" ] || notes+=("berth logs printed $berth_bytes bytes, not $LOG_BYTES.")
[ "$podman_bytes" = "$LOG_BYTES" ] || notes+=("podman logs printed $podman_bytes bytes, not $LOG_BYTES.")
log_runs=$(( runs < 5 ? runs : 5 ))
hf berth-logs "$log_runs" "$BERTH" --root "$root" --runroot "$runroot" --runtime runc logs "$lg"
hf podman-logs "$log_runs" "${P[@]}" logs "$lg"
berth_logs=$(median_ms "$work/json/berth-logs.json")
podman_logs=$(median_ms "$work/json/podman-logs.json")

# ---------------------------------------------------------------- report
exec_ratio=$(ratio "$berth_exec" "$podman_exec")
berth_tp=$(mb_per_s "$berth_logs")
podman_tp=$(mb_per_s "$podman_logs")
# Throughput ratio from the times, not the rounded rates.
tp_ratio=$(ratio "$podman_logs" "$berth_logs")
exec_result=$(verdict "$exec_ratio <= 0.5")
logs_result=$(verdict "$tp_ratio >= 2.0")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(cat <<EOF
<!-- exec_logs:begin (bench/exec_logs.sh) -->
## exec and logs (bench/exec_logs.sh)

$(date -u '+%F %T UTC'); podman $(podman --version | awk '{print $NF}'), $("$runc_bin" --version | head -1);
load average at start $load_start, at end $load_end. Medians of $runs timed
runs for exec and $log_runs for logs (hyperfine -N, 2 warm-up runs), both
engines on runc with the k8s-file log driver.

| operation | berth | podman | berth/podman | target | result |
|---|---:|---:|---:|---|---|
| exec CTR true (ms) | $berth_exec | $podman_exec | $exec_ratio | ≤ 0.5× podman | $exec_result |
| logs of 100 MB (ms) | $berth_logs | $podman_logs | $(ratio "$berth_logs" "$podman_logs") | | |
| logs throughput (MB/s) | $berth_tp | $podman_tp | $tp_ratio | ≥ 2× podman | $logs_result |

| measurement | mean ± stddev (min … max), ms |
|---|---|
| berth exec | $(stats_ms "$work/json/berth-exec.json") |
| podman exec | $(stats_ms "$work/json/podman-exec.json") |
| berth logs | $(stats_ms "$work/json/berth-logs.json") |
| podman logs | $(stats_ms "$work/json/podman-logs.json") |
$(for n in "${notes[@]}"; do echo; echo "- $n"; done)
<!-- exec_logs:end -->
EOF
)
echo "$section"
write_section "$out" exec_logs "$section"
log "wrote $out"
