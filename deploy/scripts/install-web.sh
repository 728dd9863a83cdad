#!/usr/bin/env bash
# The browser softphone's SIP library: JsSIP, pinned in pbx/portal/npm/package-lock.json,
# installed with `npm ci` and bundled by esbuild into pbx/portal/static/portal/vendor/jssip.min.js
# (git-ignored), which the portal serves from its own /static/ (no CDN). Idempotent: `make`
# runs it only when the lock file or the entry point is newer than the bundle. Installs
# Debian's nodejs and npm when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
web="$here/pbx/portal/npm"
if ! command -v npm >/dev/null 2>&1; then
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
  echo "[web] installing nodejs and npm"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
cd "$web"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "[web] JsSIP $(node -p 'require("jssip/package.json").version') bundled into pbx/portal/static/portal/vendor/jssip.min.js"
