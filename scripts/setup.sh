#!/usr/bin/env bash
# One-command setup on a fresh Debian 12 machine (as root): installs what
# berth needs, builds release binaries, installs them into /usr/local/bin and
# loads the local test image localhost/busybox (built from busybox-static,
# no registry needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked --bin berth --bin berth-mon
install -m 0755 target/release/berth target/release/berth-mon /usr/local/bin/
scripts/build-busybox-image.sh target/busybox.tar
berth load -i target/busybox.tar
