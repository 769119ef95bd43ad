# Helpers shared by the bench scripts (sourced). They expect $work (the
# script's scratch directory) to exist when called.

log() { echo ">> $*" >&2; }

# hf NAME RUNS COMMAND...: hyperfine without a shell (2 warm-ups), JSON kept
# in $work/json/NAME.json.
hf() {
    local name=$1 n=$2; shift 2
    log "hyperfine: $*"
    hyperfine -N --style basic --warmup 2 --runs "$n" \
        --export-json "$work/json/$name.json" -- "$(printf '%q ' "$@")" >&2
}
# median_ms FILE [DIGITS]: the median of a hyperfine export, in ms.
median_ms() {
    python3 -c 'import json,sys; print("%.*f" % (int(sys.argv[2]), json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1" "${2:-2}"
}
# stats_ms FILE [DIGITS]: "mean ± stddev (min … max), n=N" in ms.
stats_ms() {
    python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["results"][0]
d=int(sys.argv[2])
print("%.*f ± %.*f (%.*f … %.*f), n=%d" % (d, r["mean"]*1e3, d, (r["stddev"] or 0)*1e3, d, r["min"]*1e3, d, r["max"]*1e3, len(r["times"])))' "$1" "${2:-2}"
}
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
verdict() { python3 -c 'import sys; print("PASS" if eval(sys.argv[1]) else "MISS")' "$1"; }
# write_section FILE MARKER SECTION: replace the text between
# `<!-- MARKER:begin` and `<!-- MARKER:end -->` in FILE with SECTION (which
# carries the markers), or append SECTION; the rest of FILE is kept.
write_section() {
    python3 - "$1" "$2" "$3" <<'PY'
import os, re, sys
path, marker, section = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read() if os.path.exists(path) else ""
pat = re.compile(r"<!-- %s:begin.*?<!-- %s:end -->" % (re.escape(marker), re.escape(marker)), re.S)
if pat.search(text):
    text = pat.sub(lambda _: section, text)
else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
open(path, "w").write(text)
PY
}
