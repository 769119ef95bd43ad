#!/usr/bin/env python3
"""Turn `strace -f -ttt -o FILE` output into a markdown timeline.

    strace-timeline.py TRACE

Prints (1) every exec, mount/umount and process exit with its time from the
first traced event, (2) one line per process: program, start, exec, exit,
lifetime, and how many fsync/fdatasync it did.
"""
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^(?:<\.\.\. )?(\w+)(?:\(| resumed>)(.*)$")


def short_args(rest, n=10):
    m = re.search(r"\[(.*?)\]", rest)
    if not m:
        return ""
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
    # Paths: keep the last component; ids: first 12 characters.
    args = [("…/" + a.rsplit("/", 1)[-1]) if a.startswith("/") and a.count("/") > 1 else a for a in args]
    args = [a[:12] + "…" if re.fullmatch(r"[0-9a-f]{64}", a) else a for a in args]
    out = " ".join(args[:n])
    if len(args) > n:
        out += " ..."
    return out[:110]


def main(path):
    t0 = None
    events = []  # (t, pid, text)
    procs = {}  # pid -> dict(start, exec, prog, end, fsync)
    pending = {}  # pid -> (name, rest) for unfinished calls

    def proc(pid, t):
        return procs.setdefault(
            pid, {"start": t, "exec": None, "prog": None, "end": None, "fsync": 0, "parent": None, "thread": False}
        )

    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, t, body = int(m.group(1)), float(m.group(2)), m.group(3)
            if t0 is None:
                t0 = t
            rel = (t - t0) * 1000
            p = proc(pid, rel)
            if body.startswith("+++ exited") or body.startswith("+++ killed"):
                p["end"] = rel
                if not p["thread"] and p["exec"] is not None or p["parent"] is None and p["start"] == 0:
                    events.append((rel, pid, f"{p['prog'] or '?'} {body.strip('+ ')}"))
                elif not p["thread"] and p["parent"] is not None:
                    events.append((rel, pid, f"(forked {p['prog'] or '?'}) {body.strip('+ ')}"))
                continue
            if body.startswith("---"):
                continue
            if body.endswith("<unfinished ...>"):
                cm = CALL.match(body)
                if cm:
                    pending[pid] = (cm.group(1), cm.group(2))
                continue
            cm = CALL.match(body)
            if not cm:
                continue
            name, rest = cm.group(1), cm.group(2)
            if body.startswith("<..."):
                prev = pending.pop(pid, (name, ""))
                rest = prev[1] + rest
            ret = rest.rsplit("=", 1)[-1].strip() if "=" in rest else ""
            if name == "execve":
                if ret.startswith("0"):
                    prog = re.match(r'"([^"]*)"', rest)
                    p["prog"] = prog.group(1).rsplit("/", 1)[-1] if prog else "?"
                    p["exec"] = rel
                    events.append((rel, pid, f"exec {short_args(rest)}"))
            elif name in ("clone", "clone3", "vfork", "fork"):
                child = ret.split()[0] if ret else ""
                if child.isdigit():
                    c = proc(int(child), rel)
                    c["parent"] = pid
                    c["thread"] = "CLONE_THREAD" in rest
                    if c["prog"] is None:
                        c["prog"] = p["prog"]
            elif name in ("mount", "umount2"):
                tgt = re.findall(r'"((?:[^"\\]|\\.)*)"', rest)
                what = tgt[1] if name == "mount" and len(tgt) > 1 else (tgt[0] if tgt else "")
                events.append((rel, pid, f"{name} {what[-70:]} = {ret[:20]}"))
            elif name in ("fsync", "fdatasync"):
                p["fsync"] += 1

    print("Timeline (ms from the first traced event; strace -f --seccomp-bpf -ttt. Tracing")
    print("slows the traced processes, so absolute times run high; order and proportions hold):")
    print()
    print("| t ms | pid | event |")
    print("|---:|---:|---|")
    # Collapse runs of mount/umount calls by one process into one line.
    rows = []
    for rel, pid, text in sorted(events):
        is_mount = text.startswith(("mount ", "umount2 "))
        if is_mount and rows and rows[-1][3] and rows[-1][1] == pid:
            rows[-1][2] += 1
            rows[-1][4] = rel
            continue
        rows.append([rel, pid, 1, is_mount, rel, text])
    for rel, pid, n, is_mount, last, text in rows:
        if is_mount and n > 1:
            text = f"{n} mount/umount2 calls, until {last:.1f} ms (first: {text})"
        print(f"| {rel:.1f} | {pid} | `{text.replace('|', '/')}` |")
    print()
    print("Processes (threads omitted):")
    print()
    print("| pid | parent | program | start ms | exec ms | exit ms | lifetime ms | fsyncs |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for pid, p in sorted(procs.items(), key=lambda kv: kv[1]["start"]):
        if p["thread"] or (p["parent"] is None and p["start"] > 0):
            continue  # threads, and runc init's threads seen only by ns-local tid
        end = p["end"]
        life = f"{end - p['start']:.1f}" if end is not None else "(alive)"
        ex = f"{p['exec']:.1f}" if p["exec"] is not None else "-"
        en = f"{end:.1f}" if end is not None else "-"
        print(f"| {pid} | {p['parent'] or ''} | {p['prog'] or '?'} | {p['start']:.1f} | {ex} | {en} | {life} | {p['fsync']} |")


if __name__ == "__main__":
    main(sys.argv[1])
