#!/usr/bin/env bash
# berth vs Podman: `run --rm` on the bridge network with a published port,
# and `pod create -p` + 3 containers + `pod rm -f`. Each engine gets its own
# temporary --root/--runroot (Podman also runc, file events, cgroupfs, as in
# bench/soak.py). Prints a markdown section; with --append it is also
# appended to bench/RESULTS.md.
#
#   bench/pods.sh [-n ITERATIONS] [--append]
set -euo pipefail
cd "$(dirname "$0")/.."
N=10
APPEND=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N="$2"; shift 2 ;;
        --append) APPEND=1; shift ;;
        *) echo "usage: $0 [-n N] [--append]" >&2; exit 2 ;;
    esac
done
IMAGE=localhost/busybox:latest
ARCHIVE=target/busybox.tar
[ -f "$ARCHIVE" ] || scripts/build-busybox-image.sh "$ARCHIVE"
cargo build --release -p berth-cli -p berth-monitor --bins >/dev/null 2>&1
BERTH_BIN="$PWD/target/release/berth"

WORK=$(mktemp -d /var/tmp/berth-podbench.XXXXXX)
cleanup() {
    "${BERTH[@]}" pod rm -f -a -t 0 >/dev/null 2>&1 || true
    "${PODMAN[@]}" pod rm -f -a -t 0 >/dev/null 2>&1 || true
    "${BERTH[@]}" rm -f -a >/dev/null 2>&1 || true
    "${PODMAN[@]}" rm -f -a >/dev/null 2>&1 || true
    rm -rf "$WORK" 2>/dev/null || true
}
BERTH=("$BERTH_BIN" --root "$WORK/berth" --runroot "$WORK/berth-run")
# Podman's default rlimits for root (nofile 1048576) need CAP_SYS_RESOURCE,
# which some hosts lack (see bench/run.sh); its pod infra containers take no
# --ulimit, so the limits berth's containers get go in a containers.conf.
NPROC=$(ulimit -Hu)
if [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; then NPROC=32768; fi
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$(ulimit -Hn)" "$(ulimit -Hn)" "$NPROC" "$NPROC" >"$WORK/containers.conf"
export CONTAINERS_CONF="$WORK/containers.conf"
PODMAN=(podman --root "$WORK/podman" --runroot "$WORK/podman-run" --runtime runc
        --events-backend file --cgroup-manager cgroupfs)
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }

"${BERTH[@]}" load -i "$ARCHIVE" >/dev/null
"${PODMAN[@]}" load -i "$ARCHIVE" >/dev/null

# One warm-up of each scenario (image store, pause image, networks).
# The host port is picked by the caller, outside the timed command (a
# python start-up per pick would add the same constant to both engines).
run_rm() { local port=$1; shift; "$@" run --rm --network bridge -p "127.0.0.1:$port:80" "$IMAGE" true >/dev/null; }
pod_round() {
    local name=$1 port=$2; shift 2
    "$@" pod create --name "$name" -p "127.0.0.1:$port:80" >/dev/null
    for i in 1 2 3; do "$@" run -d --pod "$name" "$IMAGE" sleep 300 >/dev/null; done
    "$@" pod rm -f -t 0 "$name" >/dev/null
}

declare -A TOTAL
measure() { # key, command...
    local key=$1; shift
    local t0 t1
    t0=$(now); "$@"; t1=$(now)
    TOTAL[$key]=$(( ${TOTAL[$key]:-0} + t1 - t0 ))
}

run_rm "$(free_port)" "${BERTH[@]}"; run_rm "$(free_port)" "${PODMAN[@]}"
pod_round warm "$(free_port)" "${BERTH[@]}"; pod_round warm "$(free_port)" "${PODMAN[@]}"
for i in $(seq "$N"); do
    measure berth_run run_rm "$(free_port)" "${BERTH[@]}"
    measure podman_run run_rm "$(free_port)" "${PODMAN[@]}"
    measure berth_pod pod_round "p$i" "$(free_port)" "${BERTH[@]}"
    measure podman_pod pod_round "p$i" "$(free_port)" "${PODMAN[@]}"
done

ms() { echo "scale=1; $1 / $N / 1000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
{
    echo
    echo "## Pods and published ports ($(date -u +%Y-%m-%d), $N iterations, bench/pods.sh)"
    echo
    echo "| scenario | berth ms | podman ms | berth / podman |"
    echo "|---|---:|---:|---:|"
    echo "| \`run --rm --network bridge -p 127.0.0.1:P:80 IMAGE true\` | $(ms "${TOTAL[berth_run]}") | $(ms "${TOTAL[podman_run]}") | $(ratio "${TOTAL[berth_run]}" "${TOTAL[podman_run]}") |"
    echo "| \`pod create -p\` + 3 × \`run -d --pod\` + \`pod rm -f -t 0\` | $(ms "${TOTAL[berth_pod]}") | $(ms "${TOTAL[podman_pod]}") | $(ratio "${TOTAL[berth_pod]}" "${TOTAL[podman_pod]}") |"
    echo
    echo "Podman $(podman --version | awk '{print $3}'), runc, both on 2 shared cores; each engine in its own temporary root."
} | tee "$WORK/section.md"
if [ "$APPEND" = 1 ]; then
    cat "$WORK/section.md" >> bench/RESULTS.md
fi
