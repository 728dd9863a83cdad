#!/usr/bin/env bash
# Install the signaling engine and the SIP test peer from Debian's packages (idempotent).
set -euo pipefail
# espeak-ng speaks the voicemail agent's default prompts.
packages=(kamailio kamailio-extra-modules kamailio-postgres-modules kamailio-utils-modules kamailio-websocket-modules sip-tester espeak-ng)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "[engine] kamailio, sipp and espeak-ng are installed"
  exit 0
fi
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
echo "[engine] installing ${missing[*]}"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian enables a kamailio service on :5060; the project runs its own instances.
if command -v systemctl >/dev/null && systemctl is-active --quiet kamailio 2>/dev/null; then
  as_root systemctl stop kamailio || true
fi
echo "[engine] installed"
