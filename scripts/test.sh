#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy, and all tests (unit, store
# conformance, and black-box e2e tests against real runc and overlayfs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --bins --locked
cargo test --workspace --locked
