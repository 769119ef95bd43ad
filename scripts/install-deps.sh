#!/usr/bin/env bash
# Installs the Debian packages berth needs to run and to be tested.
# Idempotent and quiet when everything is present (apt only runs if needed).
set -euo pipefail
# netavark, aardvark-dns, iptables: container networks (berth-net).
# python3-docker: docker-py for the API tests (the docker CLI is on every
# machine of this kind; tests skip a client that is missing).
packages=(runc crun busybox-static tmux hyperfine procps util-linux python3-docker netavark aardvark-dns iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# CRIU 4.x for checkpoint/restore (built from vendored source; see the script).
"$(dirname "$0")/install-criu.sh"
