#!/usr/bin/env bash
# berth vs Podman as a Docker Engine API server, one run (issue 7's
# benchmark): `berth system service` and `podman system service` on their
# own unix sockets, each with its own temporary root and runroot, measured
# with the same clients:
#   (a) docker CLI `run --rm localhost/busybox true` (hyperfine),
#   (b) a docker-py loop of N create/start/wait/remove,
#   (c) C concurrent clients doing `GET /containers/json` (p50/p99 latency,
#       curl --parallel over C keep-alive connections).
# Writes the "Docker API" section of bench/RESULTS.md (other sections are
# kept) or --out FILE.
#
#   bench/api.sh [--runs N] [--loop N] [--clients C] [--requests R] [--out FILE]
#
# Targets: (a) and (b) ≤ 0.5× Podman's time; (c) p99 ≤ 20 ms.
# Containers use --network none (berth's API containers have no network
# yet); both engines on runc. Everything the script creates is removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=10 loop=100 clients=50 requests=20
out=$here/RESULTS.md
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift ;;
        --loop) loop=${2:?}; shift ;;
        --clients) clients=${2:?}; shift ;;
        --requests) requests=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

BERTH=${BERTH:-$repo/target/release/berth}
BERTH_MON=${BERTH_MON:-$(dirname "$BERTH")/berth-mon}
IMAGE=localhost/busybox
unset BERTH_MONITOR BERTH_ROOT BERTH_RUNROOT BERTH_RUNTIME DOCKER_HOST
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for b in "$BERTH" "$BERTH_MON"; do
    [ -x "$b" ] || { echo "missing $b: cargo build --release --bin berth --bin berth-mon" >&2; exit 1; }
done
runc_bin=$(command -v runc) || { echo "runc not found" >&2; exit 1; }
for tool in hyperfine podman docker; do
    pkg=$tool; [ $tool = docker ] && pkg=docker.io
    command -v $tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y $pkg >&2
done
# The first Python with docker-py (a PATH may lead to one without it).
python=
for py in python3 /usr/bin/python3; do
    if "$py" -c 'import docker' 2>/dev/null; then python=$py; break; fi
done
if [ -z "$python" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-docker >&2
    python=/usr/bin/python3
fi

work=$(mktemp -d /var/tmp/berth-bench-api.XXXXXX)
rr=$(mktemp -d /tmp/berth-bench-api-run.XXXXXX)
root=$work/root runroot=$rr/runroot
proot=$work/podman-root prunroot=$rr/podman-runroot
berth_sock=$rr/berth.sock podman_sock=$rr/podman.sock
export DOCKER_CONFIG=$work/docker-config
service_pids=()
b() { "$BERTH" --root "$root" --runroot "$runroot" --runtime runc "$@"; }
P=(podman --root "$proot" --runroot "$prunroot" --tmpdir "$rr/podman-tmp"
   --cgroup-manager=cgroupfs --events-backend=file --runtime "$runc_bin")
p() { "${P[@]}" "$@"; }
. "$here/lib.sh"

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    log "cleaning up"
    local pid
    for pid in "${service_pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${service_pids[@]}"; do wait "$pid" 2>/dev/null; done
    [ -d "$root" ] && timeout 300 "$BERTH" --root "$root" --runroot "$runroot" --runtime runc rm -af -t 0 >/dev/null 2>&1
    [ -d "$proot" ] && timeout 300 "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    for pid in $(grep -lsaE "$work|$rr" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
    done
    awk -v a="$work" -v b="$rr" '(index($5, a) == 1 || index($5, b) == 1) {print $5}' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$work" "$rr"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$root" "$runroot" "$work/json" "$work/bin" "$DOCKER_CONFIG"
# Snapshot the binaries so a rebuild meanwhile cannot change them.
cp "$BERTH" "$BERTH_MON" "$work/bin/"
BERTH=$work/bin/berth

wait_sock() {  # wait_sock PATH: until a client connects
    local i
    for i in $(seq 200); do
        docker -H "unix://$1" version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "no API on $1" >&2; exit 1
}

log "image"
"$repo/scripts/build-busybox-image.sh" "$work/busybox.tar" >/dev/null
b load -i "$work/busybox.tar" >/dev/null
p load -i "$work/busybox.tar" >/dev/null

log "services"
b system service --time 0 "unix://$berth_sock" 2>"$work/berth-service.log" &
service_pids+=($!)
p system service --time 0 "unix://$podman_sock" 2>"$work/podman-service.log" &
service_pids+=($!)
wait_sock "$berth_sock"
wait_sock "$podman_sock"

# Podman's default rlimits need CAP_SYS_RESOURCE, which this VM withholds;
# both engines get the same explicit limits (berth's API ignores them).
U=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
R=(run --rm --network none "${U[@]}" "$IMAGE" true)
for s in "$berth_sock" "$podman_sock"; do docker -H "unix://$s" "${R[@]}"; done

# ---------------------------------------------------------- (a) docker run
hf berth-run "$runs" docker -H "unix://$berth_sock" "${R[@]}"
hf podman-run "$runs" docker -H "unix://$podman_sock" "${R[@]}"
berth_run=$(median_ms "$work/json/berth-run.json" 1)
podman_run=$(median_ms "$work/json/podman-run.json" 1)

# ---------------------------------------------------- (b) docker-py loop
cat >"$work/loop.py" <<'PY'
import docker, sys, time
c = docker.APIClient(base_url="unix://" + sys.argv[1], version="auto")
n, img = int(sys.argv[2]), sys.argv[3]
ulimits = [docker.types.Ulimit(name="nofile", soft=20000, hard=20000),
           docker.types.Ulimit(name="nproc", soft=32768, hard=32768)]
hc = c.create_host_config(network_mode="none", ulimits=ulimits)
t0 = time.monotonic()
for i in range(n):
    ctr = c.create_container(img, ["true"], host_config=hc)["Id"]
    c.start(ctr)
    assert c.wait(ctr)["StatusCode"] == 0
    c.remove_container(ctr)
print("%.3f" % (time.monotonic() - t0))
PY
log "docker-py loop of $loop, berth"
berth_loop=$("$python" "$work/loop.py" "$berth_sock" "$loop" "$IMAGE")
log "docker-py loop of $loop, podman"
podman_loop=$("$python" "$work/loop.py" "$podman_sock" "$loop" "$IMAGE")

# ---------------------------------------- (c) concurrent `ps` clients
# curl (C, one event loop) keeps C connections busy with C×R requests and
# reports each one's time: a Python client with 50 threads measured its
# own GIL hand-overs (p99 ≈ 40 ms on /_ping alone).
ps_clients() {  # ps_clients SOCK PATH: prints p50 p99 max (ms) and requests/s
    local urls=() i t0 t1
    for i in $(seq $((clients * requests))); do urls+=("http://d$2"); done
    t0=$(date +%s.%N)
    curl --unix-socket "$1" --parallel --parallel-immediate --parallel-max "$clients" \
        -s -w '%{stderr}%{time_total} %{http_code}\n' "${urls[@]}" >/dev/null 2>"$work/lat.txt"
    t1=$(date +%s.%N)
    python3 - "$work/lat.txt" "$t0" "$t1" <<'PY'
import re, sys
# curl prints its parallel progress meter on stderr too, even with -s.
rows = re.findall(r"(\d+\.\d{6}) (\d{3})\b", open(sys.argv[1]).read())
bad = [c for _, c in rows if c != "200"]
assert not bad, "non-200 answers: %s" % bad[:5]
lat = sorted(float(t) * 1e3 for t, _ in rows)
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
wall = float(sys.argv[3]) - float(sys.argv[2])
print("%.2f %.2f %.2f %.0f" % (q(0.50), q(0.99), lat[-1], len(lat) / wall))
PY
}
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y curl >&2
# Ten containers to list (created, never started).
for s in "$berth_sock" "$podman_sock"; do
    for i in $(seq 10); do docker -H "unix://$s" create --network none "$IMAGE" true >/dev/null; done
done
ps_path="/v1.41/containers/json?all=1"
log "$clients concurrent clients x $requests requests, berth"
read -r b_p50 b_p99 b_max b_rps < <(ps_clients "$berth_sock" "$ps_path")
log "$clients concurrent clients x $requests requests, podman"
read -r p_p50 p_p99 p_max p_rps < <(ps_clients "$podman_sock" "$ps_path")
# The client's own floor: the same load on /_ping, which costs the server
# next to nothing.
log "client floor: $clients clients x $requests requests of /_ping, berth"
read -r f_p50 f_p99 f_max f_rps < <(ps_clients "$berth_sock" /_ping)

# ---------------------------------------------------------------- report
run_ratio=$(ratio "$berth_run" "$podman_run")
loop_ratio=$(ratio "$berth_loop" "$podman_loop")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(cat <<EOF
<!-- api:begin (bench/api.sh) -->
## Docker API: berth system service vs podman system service (bench/api.sh)

$(date -u '+%F %T UTC'); podman $(podman --version | awk '{print $NF}'), docker CLI
$(docker --version | awk '{print $3}' | tr -d ,), docker-py $("$python" -c 'import docker; print(docker.__version__)'),
$("$runc_bin" --version | head -1); load average at start $load_start, at end $load_end.
Both services on their own unix socket with their own temporary root and
runroot; containers \`--network none\` with \`${U[*]}\`. (a): median of
$runs hyperfine runs (2 warm-up); (b): one timed loop of $loop
create/start/wait/remove of \`true\`; (c): curl \`--parallel-max $clients\`
over $clients keep-alive connections, $((clients * requests)) \`GET /containers/json?all=1\`
in all (10 containers listed), each request's time as curl measured it.

| measurement | berth | podman | berth/podman | target | result |
|---|---:|---:|---:|---|---|
| (a) docker run --rm busybox true (ms) | $berth_run | $podman_run | $run_ratio | ≤ 0.5× podman | $(verdict "$run_ratio <= 0.5") |
| (b) docker-py $loop× create/start/wait/remove (s) | $berth_loop | $podman_loop | $loop_ratio | ≤ 0.5× podman | $(verdict "$loop_ratio <= 0.5") |
| (c) $clients clients, p50 (ms) | $b_p50 | $p_p50 | $(ratio "$b_p50" "$p_p50") | | |
| (c) $clients clients, p99 (ms) | $b_p99 | $p_p99 | $(ratio "$b_p99" "$p_p99") | ≤ 20 ms | $(verdict "$b_p99 <= 20") |
| (c) $clients clients, max (ms) | $b_max | $p_max | | | |
| (c) requests/s | $b_rps | $p_rps | | | |
| client floor: same clients on \`/_ping\` of berth, p50 / p99 (ms) | $f_p50 / $f_p99 | | | | |

| hyperfine | mean ± stddev (min … max), ms |
|---|---|
| berth docker run | $(stats_ms "$work/json/berth-run.json" 1) |
| podman docker run | $(stats_ms "$work/json/podman-run.json" 1) |
<!-- api:end -->
EOF
)
echo "$section"
write_section "$out" api "$section"
log "wrote $out"
