#!/usr/bin/env python3
"""Bounded soak: N parallel clients mix run/exec/stop/rm/kill -9 for a while,
then count improper states and leaks. Optionally the same mix on Podman.

    bench/soak.py [--seconds 600] [--clients 8] [--with-podman]
                  [--berth PATH] [--image-archive TAR] [--strict] [--out FILE]

Each client loops over a random operation on containers it owns:
  run --rm true | run -d sleep, exec true, stop -t 1, rm |
  run -d sleep, kill -s KILL, wait, rm | run -d sleep, SIGKILL of the CLI
  client itself mid-`run -d` (a crashed command), then rm -f.

Afterwards (both engines the same way):
  improper: containers whose `rm -f` fails, or that `ps -a` lists in a state
            outside the engine's documented set;
  leaks:    after `rm -af`, any container left, monitor processes
            (berth-mon / conmon) naming the work dirs, mounts below them,
            runc containers in the engine's runc root.
Ops/s counts completed operations (a killed-client operation counts as one).
Writes a section to --out (default: print only). Exits 1 with --strict when
anything improper or leaked was found on berth.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
IMAGE = "localhost/busybox:latest"
BERTH_STATES = {"configured", "created", "running", "stopping", "paused", "stopped", "exited"}
PODMAN_STATES = {"configured", "created", "running", "stopping", "paused", "stopped", "exited", "initialized"}


class Engine:
    def __init__(self, name, argv, work, states, monitor, run_extra=()):
        self.name, self.argv, self.work = name, argv, work
        self.states, self.monitor = states, monitor
        # Flags every `run` needs on this engine (Podman cannot raise its
        # default rlimits without CAP_SYS_RESOURCE).
        self.run_extra = list(run_extra)

    def full(self, args):
        args = list(args)
        if args and args[0] == "run":
            args[1:1] = self.run_extra
        return self.argv + args

    def cmd(self, *args, timeout=120, check=False):
        p = subprocess.run(self.full(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {p.stderr.strip()}")
        return p

    def spawn(self, *args):
        return subprocess.Popen(self.full(args), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


def client(engine, cid, deadline, stats, lock):
    rnd = random.Random(cid)
    n = 0
    errors = []
    while time.monotonic() < deadline:
        name = f"soak-{cid}-{n}"
        n += 1
        op = rnd.choice(["run-rm", "exec-stop", "kill9", "crash-client"])
        try:
            if op == "run-rm":
                p = engine.cmd("run", "--rm", IMAGE, "true")
                if p.returncode != 0:
                    errors.append(f"run --rm: {p.stderr.strip()}")
            elif op == "exec-stop":
                engine.cmd("run", "-d", "--name", name, IMAGE, "sleep", "100", check=True)
                p = engine.cmd("exec", name, "true")
                if p.returncode != 0:
                    errors.append(f"exec: {p.stderr.strip()}")
                engine.cmd("stop", "-t", "1", name, check=True)
                engine.cmd("rm", name, check=True)
            elif op == "kill9":
                engine.cmd("run", "-d", "--name", name, IMAGE, "sleep", "100", check=True)
                engine.cmd("kill", "-s", "KILL", name, check=True)
                p = engine.cmd("wait", name)
                if p.returncode != 0 or p.stdout.strip() != "137":
                    errors.append(f"wait after kill -9: {p.stdout.strip()} {p.stderr.strip()}")
                engine.cmd("rm", name, check=True)
            else:
                child = engine.spawn("run", "-d", "--name", name, IMAGE, "sleep", "100")
                time.sleep(rnd.uniform(0.0, 0.15))
                child.send_signal(signal.SIGKILL)
                child.wait()
                # Exit 1 is "no such container": the run died before creating it.
                p = engine.cmd("rm", "-f", "-t", "0", name)
                if p.returncode not in (0, 1):
                    errors.append(f"rm -f after crashed run: {p.stderr.strip()}")
        except Exception as e:  # noqa: BLE001 - every failure is counted
            errors.append(f"{op}: {e}")
        with lock:
            stats["ops"] += 1
    with lock:
        stats["errors"].extend(errors)


def mounts_below(paths):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp.startswith(p) for p in paths):
                out.append(mp)
    return out


def monitors_naming(paths, exe):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if exe in cmd and any(p in cmd for p in paths):
            found.append(int(pid))
    return found


def soak(engine, seconds, clients, runc_root):
    stats = {"ops": 0, "errors": []}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=client, args=(engine, c, deadline, stats, lock))
               for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start

    improper = []
    ps = engine.cmd("ps", "-a", "--format", "json")
    listed = json.loads(ps.stdout or "[]") if ps.returncode == 0 else []
    if ps.returncode != 0:
        improper.append(f"ps -a failed: {ps.stderr.strip()}")
    for c in listed:
        state = str(c.get("State", "")).lower()
        if state not in engine.states:
            improper.append(f"{c.get('Id', c.get('ID'))}: state {state!r}")
    for c in listed:
        cid = c.get("Id") or c.get("ID")
        p = engine.cmd("rm", "-f", "-t", "0", cid)
        if p.returncode not in (0, 1):
            improper.append(f"{cid}: rm -f: {p.stderr.strip()}")
    time.sleep(1)
    leaks = []
    left = engine.cmd("ps", "-aq").stdout.split()
    if left:
        leaks.append(f"{len(left)} containers left after rm -f")
    mons = monitors_naming([engine.work], engine.monitor)
    if mons:
        leaks.append(f"{len(mons)} {engine.monitor} processes left")
    mnts = mounts_below([engine.work])
    if mnts:
        leaks.append(f"{len(mnts)} mounts left below {engine.work}")
    if runc_root and os.path.isdir(runc_root):
        left_runc = [d for d in os.listdir(runc_root) if os.path.isdir(os.path.join(runc_root, d))]
        if left_runc:
            leaks.append(f"{len(left_runc)} runc containers left in {runc_root}")
    return {
        "ops": stats["ops"], "seconds": elapsed, "ops_per_s": stats["ops"] / elapsed,
        "errors": stats["errors"], "improper": improper, "leaks": leaks,
    }


def cleanup_dir(engine, path):
    if engine is not None:
        engine.cmd("rm", "-af", "-t", "0", timeout=300)
    for mp in sorted(mounts_below([path]), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    shutil.rmtree(path, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--with-podman", action="store_true")
    ap.add_argument("--berth", default=os.path.join(REPO, "target/release/berth"))
    ap.add_argument("--image-archive", default=os.path.join(REPO, "target/busybox.tar"))
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    if not os.path.exists(a.image_archive):
        subprocess.run([os.path.join(REPO, "scripts/build-busybox-image.sh"), a.image_archive], check=True)

    results = {}
    work = tempfile.mkdtemp(prefix="berth-soak.", dir="/var/tmp")
    run = tempfile.mkdtemp(prefix="berth-soak-run.", dir="/tmp")
    env_mon = os.path.join(os.path.dirname(os.path.abspath(a.berth)), "berth-mon")
    os.environ["BERTH_MONITOR"] = env_mon
    berth = Engine("berth", [a.berth, "--root", work, "--runroot", run], work, BERTH_STATES, "berth-mon")
    try:
        berth.cmd("load", "-i", a.image_archive, check=True)
        r = soak(berth, a.seconds, a.clients, os.path.join(run, "runtime", "runc"))
        # monitors name the runroot, not the root
        r["leaks"] += [f"{len(m)} berth-mon left" for m in [monitors_naming([run], "berth-mon")] if m]
        results["berth"] = r
    finally:
        cleanup_dir(berth, work)
        cleanup_dir(None, run)

    if a.with_podman:
        if not shutil.which("podman"):
            subprocess.run(["apt-get", "install", "-y", "podman"], check=True)
        pwork = tempfile.mkdtemp(prefix="podman-soak.", dir="/var/tmp")
        prun = tempfile.mkdtemp(prefix="podman-soak-run.", dir="/tmp")
        podman = Engine("podman", ["podman", "--root", pwork, "--runroot", prun,
                                   "--runtime", "runc", "--events-backend", "file",
                                   "--cgroup-manager", "cgroupfs"], pwork, PODMAN_STATES, "conmon",
                        run_extra=["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"])
        try:
            podman.cmd("load", "-i", a.image_archive, check=True)
            r = soak(podman, a.seconds, a.clients, None)
            r["leaks"] += [f"{len(m)} conmon left" for m in [monitors_naming([prun], "conmon")] if m]
            results["podman"] = r
        finally:
            cleanup_dir(podman, pwork)
            cleanup_dir(None, prun)

    lines = [f"## Soak ({a.clients} clients, {a.seconds:.0f} s each, mix: run --rm / run -d+exec+stop+rm / "
             f"kill -9+wait+rm / SIGKILLed `run -d` client + rm -f)", "",
             "| engine | ops | ops/s | errors | improper states | leaks |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['ops']} | {r['ops_per_s']:.2f} | {len(r['errors'])} | "
                     f"{len(r['improper'])} | {len(r['leaks'])} |")
    if "podman" in results and results["podman"]["ops_per_s"] > 0:
        ratio = results["berth"]["ops_per_s"] / results["podman"]["ops_per_s"]
        lines += ["", f"Throughput berth/Podman: **{ratio:.2f}x** (target >= 2x: "
                  f"{'met' if ratio >= 2 else 'MISSED'})."]
    for name, r in results.items():
        for what in ("errors", "improper", "leaks"):
            for item in r[what][:10]:
                lines.append(f"- {name} {what}: {item}")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write("\n" + text)
    b = results["berth"]
    bad = len(b["improper"]) + len(b["leaks"]) + len(b["errors"])
    sys.exit(1 if a.strict and bad else 0)


if __name__ == "__main__":
    main()
