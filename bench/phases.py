#!/usr/bin/env python3
"""Median phase durations of a command over several light-weight traces.

    phases.py TRACE...

Each TRACE is `strace -f --seccomp-bpf -ttt -e trace=execve -o TRACE CMD`:
only execve stops the tracee, so timings are close to an untraced run.
Events are the start (exec) and end (exit) of every program the command
runs (runc subcommands, berth-mon, berth sub-invocations, the container's
process). The time between consecutive events is one phase, named by the
two events; the table gives each phase's median over the traces in which
the events came in the same order as in most traces.
"""
import collections
import re
import statistics
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")


def label(argv):
    prog = argv[0].rsplit("/", 1)[-1] if argv else "?"
    rest = argv[1:]
    # Skip global options and their values to find the subcommand.
    words, skip = [], False
    for a in rest:
        if skip:
            skip = False
            continue
        if a in ("--root", "--runroot", "--runtime", "--log", "--log-format", "--cid", "--bundle", "-b"):
            skip = True
            continue
        if a.startswith("-"):
            continue
        words.append(a)
    if prog == "runc":
        return "runc " + (words[0] if words else "")
    if prog == "berth":
        sub = words[:2] if words[:1] == ["container"] else words[:1]
        return "berth " + " ".join(sub)
    return prog


def events(path):
    out, t0, root = [], None, None
    progs = {}
    pending = {}
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, t, body = m.group(1), float(m.group(2)), m.group(3)
            if t0 is None:
                t0, root = t, pid
            rel = (t - t0) * 1000
            if body.startswith("execve(") and body.endswith("<unfinished ...>"):
                pending[pid] = body
                continue
            if body.startswith("<... execve resumed>"):
                if pid not in pending:
                    continue
                body = pending.pop(pid) + body
            if body.startswith("execve(") and re.search(r"\)\s*= 0$", body):
                argv = re.findall(r'"((?:[^"\\]|\\.)*)"', body.split("[", 1)[1].split("]", 1)[0]) if "[" in body else []
                lab = label(argv)
                if lab == "runc init":
                    continue
                if pid == root:
                    lab = "main " + lab
                elif lab not in ("runc create", "runc start", "runc delete", "runc run", "runc kill", "runc state")                         and not lab.startswith("berth"):
                    lab = "container " + lab
                progs[pid] = lab
                out.append((rel, f"start {lab}"))
            elif body.startswith("+++ exited") and pid in progs:
                out.append((rel, f"end {progs[pid]}"))
    out.sort()
    return out


def main(paths):
    runs = [events(p) for p in paths]
    seqs = collections.Counter(tuple(e for _, e in r) for r in runs)
    common, n = seqs.most_common(1)[0]
    use = [r for r in runs if tuple(e for _, e in r) == common]
    print(f"{len(use)} of {len(runs)} traces had the most common event order (others: the exit-path race"
          " between the monitor's cleanup and the foreground reorders events).")
    print()
    print("| # | from | to | median ms | min | max |")
    print("|---:|---|---|---:|---:|---:|")
    for i in range(1, len(common)):
        d = [r[i][0] - r[i - 1][0] for r in use]
        print(f"| {i} | {common[i-1]} | {common[i]} | {statistics.median(d):.1f} | {min(d):.1f} | {max(d):.1f} |")
    tot = [r[-1][0] - r[0][0] for r in use]
    print(f"| | **total** | | **{statistics.median(tot):.1f}** | {min(tot):.1f} | {max(tot):.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
