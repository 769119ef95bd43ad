#!/usr/bin/env python3
"""Summarise fsync/fdatasync from `strace -f -y -T -e trace=fsync,fdatasync`.

    fsync-summary.py TRACE

Prints a markdown table: file synced, count, total ms (as strace -T saw it).
"""
import collections
import re
import sys

START = re.compile(r"^(\d+)\s+(fsync|fdatasync)\((\d+)<([^>]*)>(.*)$")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (fsync|fdatasync) resumed>.*<([\d.]+)>\s*$")
DONE = re.compile(r"<([\d.]+)>\s*$")


def key(path):
    # Collapse per-container paths so the table groups by kind of file.
    return re.sub(r"[0-9a-f]{64}", "<id>", path)


def main(path):
    count = collections.Counter()
    total = collections.defaultdict(float)
    pending = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = START.match(line)
            if m:
                pid, _, _, target, rest = m.groups()
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = target
                    continue
                d = DONE.search(rest)
                count[key(target)] += 1
                total[key(target)] += float(d.group(1)) if d else 0.0
                continue
            m = RESUMED.match(line)
            if m and m.group(1) in pending:
                target = pending.pop(m.group(1))
                count[key(target)] += 1
                total[key(target)] += float(m.group(3))
    print("| file synced | calls | total ms |")
    print("|---|---:|---:|")
    for k in sorted(count, key=lambda k: -total[k]):
        print(f"| `{k}` | {count[k]} | {total[k] * 1000:.2f} |")
    print(f"| **all** | **{sum(count.values())}** | **{sum(total.values()) * 1000:.2f}** |")


if __name__ == "__main__":
    main(sys.argv[1])
