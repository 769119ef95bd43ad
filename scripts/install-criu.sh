#!/usr/bin/env bash
# Installs CRIU 4.x as /usr/local/sbin/criu for checkpoint/restore (berth
# prefers it over Debian's criu 3.17, which fails on recent kernels with
# "vdso: Unexpected rt vDSO area bounds"). It is built from the vendored
# source beside the repository (../shared/vendor/build-criu.sh). Idempotent
# and quiet when CRIU 4.x is already there; without the vendored source it
# says so and leaves checkpoint/restore (and its tests) unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."
if /usr/local/sbin/criu --version 2>/dev/null | grep -q '^Version: [4-9]'; then
  exit 0
fi
build=../shared/vendor/build-criu.sh
if [ ! -f "$build" ]; then
  echo "install-criu: $build not found; checkpoint/restore needs CRIU 4.x at /usr/local/sbin/criu" >&2
  exit 0
fi
bash "$build"
