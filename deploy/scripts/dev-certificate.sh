#!/usr/bin/env bash
# A self-signed TLS certificate for the local SIP engine (`make run`): written once under
# var/tls/ (or the directory given as $1) and kept; a second run changes nothing.
# Production uses a real certificate instead (deploy/production/README.md, "The SIP engine").
set -euo pipefail
dir=${1:-var/tls}
name=${2:-localhost}
certificate="$dir/sip.crt"
key="$dir/sip.key"
if [[ -s $certificate && -s $key ]]; then
  echo "[tls] using $certificate"
  exit 0
fi
mkdir -p "$dir"
chmod 0700 "$dir"
# Key first, mode 0600 before anything is written to it.
(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 825 -sha256 \
  -subj "/CN=$name" -addext "subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1" \
  -keyout "$key.tmp" -out "$certificate.tmp" 2>/dev/null)
mv "$key.tmp" "$key"
mv "$certificate.tmp" "$certificate"
chmod 0644 "$certificate"
echo "[tls] self-signed certificate $certificate (CN=$name) created"
