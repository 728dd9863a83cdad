#!/usr/bin/env bash
# Install the signaling engine and the SIP test peer from Debian's packages (idempotent).
set -euo pipefail
# kamailio-websocket-modules: SIP over WebSocket for browsers (the portal's softphone).
# espeak-ng speaks the voicemail agent's default prompts; rtpengine-daemon is the media relay
# (userspace forwarding, no kernel module needed). iproute2, nftables, socat and tcpdump build
# and observe the simulated NAT of the tests (network namespaces). kamailio-tls-modules: SIP
# over TLS (parts/tls.cfg); openssl makes the development certificate. kamailio-python3-modules
# with python3-psycopg2 and python3-redis: calls decided inside the engine (decide.py), in
# Debian's Python, which Kamailio embeds.
packages=(kamailio kamailio-extra-modules kamailio-postgres-modules kamailio-utils-modules
  kamailio-tls-modules kamailio-websocket-modules kamailio-python3-modules python3-psycopg2
  python3-redis openssl rtpengine-daemon sip-tester espeak-ng iproute2 nftables socat tcpdump)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "[engine] kamailio (with TLS), rtpengine, sipp and the test tools are installed"
  exit 0
fi
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
echo "[engine] installing ${missing[*]}"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian enables kamailio and rtpengine services (:5060, :2223); the project runs its own.
for service in kamailio rtpengine-daemon; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    as_root systemctl stop "$service" || true
  fi
done
echo "[engine] installed"
