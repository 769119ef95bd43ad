#!/usr/bin/env bash
# Installs the Debian packages berth needs to run and to be tested.
# Idempotent and quiet when everything is present (apt only runs if needed).
set -euo pipefail
# netavark, aardvark-dns, iptables: container networks (berth-net).
# iproute2: `ip`, for the keeper port that keeps the default bridge up (berth-net keeper.rs).
# python3-docker: docker-py for the API tests (the docker CLI is on every
# machine of this kind; tests skip a client that is missing).
# python3-websocket: websocket-client, for docker-py's attach over a websocket.
# docker-registry + apache2-utils (htpasswd -B): the registry tests start
# their own registry on 127.0.0.1; the packaged service must not run.
packages=(runc crun busybox-static tmux hyperfine procps util-linux iproute2 python3-docker
  python3-websocket netavark aardvark-dns iptables docker-registry apache2-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep package scripts from starting services (docker-registry's would
  # listen on :5000); only add the policy file if the host has none.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Whatever the install did, the packaged registry service stays off.
if command -v systemctl >/dev/null && systemctl list-unit-files docker-registry.service >/dev/null 2>&1; then
  systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
fi
# CRIU 4.x for checkpoint/restore (built from vendored source; see the script).
"$(dirname "$0")/install-criu.sh"
